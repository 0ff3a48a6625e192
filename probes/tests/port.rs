//! Tests of the port probe and the socket table, against real listeners.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::time::Duration;

use why5xx_probes::port::{self, Listener, PortObservation, PortSpec, SocketTable};
use why5xx_probes::{FailureKind, Phase, ProbeContext};

use crate::support;

async fn probe(port: u16, host: Option<IpAddr>) -> PortObservation {
    let spec = PortSpec {
        port,
        host,
        timeout: Duration::from_secs(2),
    };
    // A fresh context: the socket table is read once per context.
    port::run(&spec, &ProbeContext::default()).await
}

fn owned_by_me(l: &Listener) -> bool {
    l.owners.iter().any(|o| o.pid == std::process::id())
}

#[tokio::test]
async fn finds_an_ipv4_listener_its_owner_and_connects() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let obs = probe(addr.port(), None).await;
    assert_eq!(obs.port, addr.port());
    assert!(obs.failure.is_none(), "{obs:?}");
    assert!(obs.owners_complete, "{obs:?}");
    assert_eq!(obs.listeners.len(), 1, "{obs:?}");
    let l = &obs.listeners[0];
    assert_eq!(l.local, addr);
    assert!(l.inode > 0);
    assert!(owned_by_me(l), "{l:?}");
    // std listens with a backlog of 128 (capped by somaxconn), none waiting.
    assert!(l.backlog > 0, "{l:?}");
    assert_eq!(l.accept_queue, 0, "{l:?}");
    let connect = obs.connect.unwrap();
    assert_eq!(connect.addr, addr);
    assert!(connect.accepted, "{connect:?}");
    assert!(connect.failure.is_none());
}

#[tokio::test]
async fn a_port_where_nothing_listens_is_refused() {
    let addr = support::refused_addr();
    let obs = probe(addr.port(), None).await;
    assert!(obs.listeners.is_empty(), "{obs:?}");
    let connect = obs.connect.unwrap();
    assert_eq!(connect.addr, addr);
    assert!(!connect.accepted);
    let failure = connect.failure.unwrap();
    assert_eq!(
        (failure.kind, failure.phase),
        (FailureKind::Refused, Phase::Connect)
    );
}

#[tokio::test]
async fn finds_an_ipv6_listener_and_connects_over_ipv6_loopback() {
    let listener = TcpListener::bind("[::1]:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let obs = probe(addr.port(), None).await;
    assert_eq!(obs.listeners.len(), 1, "{obs:?}");
    assert_eq!(obs.listeners[0].local, addr);
    assert!(owned_by_me(&obs.listeners[0]));
    let connect = obs.connect.unwrap();
    assert_eq!(connect.addr.ip(), IpAddr::V6(Ipv6Addr::LOCALHOST));
    assert!(connect.accepted, "{connect:?}");
}

#[tokio::test]
async fn a_wildcard_listener_is_tested_through_loopback() {
    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let obs = probe(port, None).await;
    assert_eq!(obs.listeners.len(), 1, "{obs:?}");
    let connect = obs.connect.unwrap();
    assert_eq!(
        connect.addr,
        SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port)
    );
    assert!(connect.accepted);
}

#[tokio::test]
async fn the_host_given_is_the_one_tested() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Listening on IPv4 loopback only: IPv6 loopback is refused.
    let obs = probe(port, Some(IpAddr::V6(Ipv6Addr::LOCALHOST))).await;
    assert_eq!(obs.listeners.len(), 1);
    let connect = obs.connect.unwrap();
    assert_eq!(connect.addr.ip(), IpAddr::V6(Ipv6Addr::LOCALHOST));
    assert_eq!(connect.failure.map(|f| f.kind), Some(FailureKind::Refused));
}

#[tokio::test]
async fn a_full_accept_queue_is_seen_and_a_connect_times_out() {
    // listen(1) and never accept: the kernel queues two connections, then
    // drops further SYNs, so a third connect hangs until our timeout.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let _a = std::net::TcpStream::connect(addr).unwrap();
    let _b = std::net::TcpStream::connect(addr).unwrap();

    let spec = PortSpec {
        port: addr.port(),
        host: None,
        timeout: Duration::from_millis(300),
    };
    let obs = port::run(&spec, &ProbeContext::default()).await;
    assert_eq!(obs.listeners.len(), 1, "{obs:?}");
    assert_eq!(obs.listeners[0].accept_queue, 2, "{obs:?}");
    assert_eq!(obs.listeners[0].backlog, 1, "{obs:?}");
    let connect = obs.connect.unwrap();
    assert!(!connect.accepted);
    let failure = connect.failure.unwrap();
    assert_eq!(
        (failure.kind, failure.phase),
        (FailureKind::Timeout, Phase::Connect)
    );
}

#[tokio::test]
async fn the_socket_table_maps_listeners_to_this_process() {
    let v4 = TcpListener::bind("127.0.0.1:0").unwrap();
    let v6 = TcpListener::bind("[::1]:0").unwrap();
    let table = tokio::task::spawn_blocking(SocketTable::read)
        .await
        .unwrap();
    assert!(table.failure.is_none(), "{table:?}");
    assert!(
        table.owners_complete,
        "running as root, every fd dir is readable"
    );
    for addr in [v4.local_addr().unwrap(), v6.local_addr().unwrap()] {
        let l = table.listeners.iter().find(|l| l.local == addr);
        let l = l.unwrap_or_else(|| panic!("{addr} not in {table:?}"));
        assert!(owned_by_me(l), "{l:?}");
        let me = l
            .owners
            .iter()
            .find(|o| o.pid == std::process::id())
            .unwrap();
        assert!(!me.name.is_empty());
    }
    let keys: Vec<(u16, IpAddr)> = table
        .listeners
        .iter()
        .map(|l| (l.local.port(), l.local.ip()))
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0] <= w[1]),
        "not sorted: {keys:?}"
    );
}

#[tokio::test]
async fn a_child_holding_the_socket_is_an_owner_too() {
    use rustix::io::{FdFlags, fcntl_setfd};
    // Workers of a pre-fork server share the listening socket. Let one
    // child inherit ours: clear close-on-exec just around the spawn.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    fcntl_setfd(&listener, FdFlags::empty()).unwrap();
    let spawned = std::process::Command::new("sleep").arg("30").spawn();
    fcntl_setfd(&listener, FdFlags::CLOEXEC).unwrap();
    let mut child = spawned.unwrap();

    let obs = probe(addr.port(), None).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(obs.listeners.len(), 1, "{obs:?}");
    let owners = &obs.listeners[0].owners;
    let pids: Vec<u32> = owners.iter().map(|o| o.pid).collect();
    assert!(pids.contains(&std::process::id()), "{owners:?}");
    assert!(pids.contains(&child.id()), "{owners:?}");
    assert!(pids.windows(2).all(|w| w[0] < w[1]), "{owners:?}");
    let sleeper = owners.iter().find(|o| o.pid == child.id()).unwrap();
    assert_eq!(sleeper.name, "sleep");
}

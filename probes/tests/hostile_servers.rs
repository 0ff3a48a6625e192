//! Hostile servers on 127.0.0.1 for the "never make an outage worse" tests:
//! each misbehaves in one way a sick or malicious peer can (an endless body,
//! headers dribbled a byte a second, random bytes, a megabyte of headers, a
//! redirect loop, garbage or a reset in the TLS handshake, DNS garbage and
//! truncation with a silent TCP fallback). Shared by the probe tests and the
//! binary's tests (`#[path]`); each server lives until the test ends.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// Deterministic noise (xorshift), never starting like HTTP (`H`) or a TLS
/// record (0x15, 0x16), so that what the client makes of it is fixed.
pub fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(len);
    if let Some(first) = out.first_mut()
        && matches!(*first, b'H' | 0x15 | 0x16)
    {
        *first = 0x00;
    }
    out
}

/// Accept forever, handing each connection to `handle` in its own task.
async fn serve<F, Fut>(handle: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(handle(tcp));
        }
    });
    addr
}

/// Read a request head (to the blank line), at most 64 KiB.
async fn read_head(s: &mut TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 64 * 1024 {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Keep `tcp` open and silent for an hour (longer than any test).
async fn hold(tcp: TcpStream) {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    drop(tcp);
}

/// `200 OK` with no length, then body bytes as fast as the client takes them,
/// forever.
pub async fn endless_body() -> SocketAddr {
    serve(|mut tcp| async move {
        read_head(&mut tcp).await;
        let head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n";
        if tcp.write_all(head).await.is_err() {
            return;
        }
        let chunk = vec![b'x'; 64 * 1024];
        while tcp.write_all(&chunk).await.is_ok() {}
    })
    .await
}

/// A status line, then a header one byte a second, never finished.
pub async fn dribbled_headers() -> SocketAddr {
    serve(|mut tcp| async move {
        read_head(&mut tcp).await;
        if tcp.write_all(b"HTTP/1.1 200 OK\r\n").await.is_err() {
            return;
        }
        for b in b"X-Slow: ".iter().chain(std::iter::repeat(&b'z')) {
            if tcp.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
    .await
}

/// 4 KiB of random bytes instead of a response, then silence.
pub async fn random_bytes() -> SocketAddr {
    serve(|mut tcp| async move {
        read_head(&mut tcp).await;
        let _ = tcp.write_all(&noise(4096, 0x5eed)).await;
        hold(tcp).await;
    })
    .await
}

/// A status line and then a megabyte of headers (and then the end of them).
pub async fn megabyte_of_headers() -> SocketAddr {
    serve(|mut tcp| async move {
        read_head(&mut tcp).await;
        let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
        let value = "a".repeat(1000);
        let mut i = 0;
        while head.len() < 1024 * 1024 {
            head.extend_from_slice(format!("X-Filler-{i}: {value}\r\n").as_bytes());
            i += 1;
        }
        head.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        let _ = tcp.write_all(&head).await;
        hold(tcp).await;
    })
    .await
}

/// Every request redirected to `/loop`, forever.
pub async fn redirect_loop() -> SocketAddr {
    serve(|mut tcp| async move {
        read_head(&mut tcp).await;
        let _ = tcp
            .write_all(
                b"HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await;
        let _ = tcp.shutdown().await;
    })
    .await
}

/// Read the first bytes of the TLS client hello (one read is enough here).
async fn read_client_hello(tcp: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = tcp.read(&mut buf).await;
}

/// Reads the TLS client hello and answers random bytes, then silence.
pub async fn tls_garbage() -> SocketAddr {
    serve(|mut tcp| async move {
        read_client_hello(&mut tcp).await;
        let _ = tcp.write_all(&noise(4096, 0x7115)).await;
        hold(tcp).await;
    })
    .await
}

/// Reads the TLS client hello and closes with `SO_LINGER` 0: a reset in the
/// middle of the handshake.
pub async fn tls_reset() -> SocketAddr {
    serve(|mut tcp| async move {
        read_client_hello(&mut tcp).await;
        let _ = rustix::net::sockopt::set_socket_linger(&tcp, Some(Duration::ZERO));
        drop(tcp);
    })
    .await
}

/// Bind UDP and TCP on the same free port of 127.0.0.1.
async fn udp_and_tcp() -> (UdpSocket, TcpListener) {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = udp.local_addr().unwrap().port();
        if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)).await {
            return (udp, tcp);
        }
    }
    panic!("no port free for both UDP and TCP");
}

/// Hold every TCP connection open without a byte, forever.
fn silent_tcp(listener: TcpListener) {
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(hold(tcp));
        }
    });
}

/// A DNS server answering every query with its id and then random bytes;
/// its TCP port accepts and never answers.
pub async fn dns_garbage() -> SocketAddr {
    let (udp, tcp) = udp_and_tcp().await;
    let addr = udp.local_addr().unwrap();
    silent_tcp(tcp);
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        let mut seed = 1u64;
        loop {
            let Ok((n, from)) = udp.recv_from(&mut buf).await else {
                return;
            };
            seed += 1;
            let mut reply = noise(300, seed);
            reply[..2].copy_from_slice(&buf[..2.min(n)]);
            let _ = udp.send_to(&reply, from).await;
        }
    });
    addr
}

/// A DNS server answering every UDP query with an empty, truncated (TC)
/// answer; its TCP fallback accepts and never answers.
pub async fn dns_truncated() -> SocketAddr {
    let (udp, tcp) = udp_and_tcp().await;
    let addr = udp.local_addr().unwrap();
    silent_tcp(tcp);
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        loop {
            let Ok((n, from)) = udp.recv_from(&mut buf).await else {
                return;
            };
            if let Some(reply) = truncated_reply(&buf[..n]) {
                let _ = udp.send_to(&reply, from).await;
            }
        }
    });
    addr
}

/// The answer to `query` with QR, TC and RA set, its question echoed and no
/// records.
pub fn truncated_reply(query: &[u8]) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    // Header, then the first question (name, type, class).
    let mut end = 12;
    while *query.get(end)? != 0 {
        end += 1 + usize::from(query[end]);
    }
    end += 1 + 4;
    let mut reply = query.get(..end)?.to_vec();
    reply[2] = 0x80 | 0x02 | (query[2] & 0x01); // QR, TC, RD copied
    reply[3] = 0x80; // RA, NOERROR
    reply[4..6].copy_from_slice(&[0, 1]); // QDCOUNT 1
    reply[6..12].fill(0); // no answers, authority or additional
    Some(reply)
}

/// After the client's first bytes, `prefix` and then endless filler, as fast
/// as the client takes it.
async fn endless_after(prefix: &'static [u8]) -> SocketAddr {
    serve(move |mut tcp| async move {
        let mut buf = [0u8; 4096];
        let _ = tcp.read(&mut buf).await;
        if tcp.write_all(prefix).await.is_err() {
            return;
        }
        let chunk = vec![b'x'; 64 * 1024];
        while tcp.write_all(&chunk).await.is_ok() {}
    })
    .await
}

/// A "Redis" answering every command with a 2 GB bulk string it never ends.
pub async fn redis_endless_reply() -> SocketAddr {
    endless_after(b"$2000000000\r\n").await
}

/// A fake `PostgreSQL` answering the startup message with a 2 GB message.
pub async fn postgres_endless_message() -> SocketAddr {
    endless_after(b"R\x7f\xff\xff\xff").await
}

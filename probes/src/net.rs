//! Connection plumbing shared by the http and tls probes: resolving and
//! connecting under one deadline, and a tap on the byte stream that keeps the
//! first bytes the peer sent and when the first answer byte arrived.
//!
//! Nothing here records what we send: request headers carry secrets.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::timeout_at;

use crate::{Failure, FailureKind, Phase};

/// How many of the peer's first bytes a [`Tap`] keeps.
pub(crate) const SNIFF_BYTES: usize = 16;

/// A deadline `budget` from now, saturating instead of overflowing.
pub(crate) fn deadline_after(budget: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(budget)
        .unwrap_or_else(|| now + Duration::from_hours(365 * 24))
}

/// Split `host:port` (`[v6]:port` for IPv6 literals) into the bare host and
/// the port; `default_port` when no port is given.
pub(crate) fn split_host_port(address: &str, default_port: u16) -> Option<(String, u16)> {
    let address = address.trim();
    if let Some(rest) = address.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        return (!host.is_empty()).then(|| (host.to_string(), port));
    }
    if address.parse::<IpAddr>().is_ok() {
        return Some((address.to_string(), default_port));
    }
    match address.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && !host.is_empty() => {
            Some((host.to_string(), port.parse().ok()?))
        }
        Some(_) => None,
        None if address.is_empty() => None,
        None => Some((address.to_string(), default_port)),
    }
}

/// Resolve `host` with the system resolver (getaddrinfo) before `deadline`.
pub(crate) async fn resolve(
    host: &str,
    port: u16,
    deadline: tokio::time::Instant,
) -> Result<Vec<SocketAddr>, Failure> {
    match timeout_at(deadline, tokio::net::lookup_host((host, port))).await {
        Err(_) => Err(Failure::timeout(
            Phase::Dns,
            format!("resolving {host}: timed out"),
        )),
        Ok(Err(e)) => Err(classify_lookup_error(&e, host)),
        Ok(Ok(addrs)) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                Err(Failure::new(
                    FailureKind::NoRecords,
                    Phase::Dns,
                    format!("resolving {host}: no address"),
                ))
            } else {
                Ok(addrs)
            }
        }
    }
}

/// getaddrinfo reports only text: "Name or service not known" (`EAI_NONAME`)
/// and "No address associated with hostname" (`EAI_NODATA`) mean the name
/// does not resolve; anything else is a resolver problem.
fn classify_lookup_error(e: &io::Error, host: &str) -> Failure {
    let text = e.to_string();
    let kind = if text.contains("Name or service not known")
        || text.contains("No address associated")
        || text.contains("nodename nor servname")
    {
        FailureKind::NxDomain
    } else {
        FailureKind::DnsError
    };
    Failure::new(kind, Phase::Dns, format!("resolving {host}: {text}"))
}

/// Connect to the first of `addrs` that accepts before `deadline`, with
/// `TCP_NODELAY` set. When every address fails, the last failure is returned.
pub(crate) async fn connect(
    addrs: &[SocketAddr],
    deadline: tokio::time::Instant,
) -> Result<(TcpStream, SocketAddr), Failure> {
    let mut last = Failure::new(
        FailureKind::Other,
        Phase::Connect,
        "no address to connect to",
    );
    for &addr in addrs {
        match timeout_at(deadline, TcpStream::connect(addr)).await {
            Err(_) => {
                return Err(Failure::timeout(
                    Phase::Connect,
                    format!("connect to {addr}: timed out"),
                ));
            }
            Ok(Err(e)) => {
                last = Failure::from_io(&e, Phase::Connect, &format!("connect to {addr}"));
            }
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok((stream, addr));
            }
        }
    }
    Err(last)
}

/// A stream that fails reads once `left` bytes have been read: a hostile
/// peer declaring a 2 GB message cannot make a probe buffer it. The error is
/// of kind `FileTooLarge`, which [`Failure::from_io`] classifies as
/// [`FailureKind::LimitExceeded`].
#[derive(Debug)]
pub(crate) struct ReadBudget<S> {
    inner: S,
    left: u64,
    limit: u64,
}

impl<S> ReadBudget<S> {
    /// Allow at most `limit` bytes to be read from `inner`.
    pub(crate) fn new(inner: S, limit: u64) -> Self {
        Self {
            inner,
            left: limit,
            limit,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadBudget<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.left == 0 {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                format!("the peer sent more than {} bytes", this.limit),
            )));
        }
        let n = if buf.remaining() as u64 <= this.left {
            let before = buf.filled().len();
            ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
            buf.filled().len() - before
        } else {
            // Near the end of the budget: read only what is left of it.
            let mut room = vec![0u8; usize::try_from(this.left).unwrap_or(0)];
            let mut small = ReadBuf::new(&mut room);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut small))?;
            buf.put_slice(small.filled());
            small.filled().len()
        };
        this.left = this.left.saturating_sub(n as u64);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ReadBudget<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[derive(Debug, Default)]
struct TapState {
    /// The first bytes the peer ever sent.
    first: Vec<u8>,
    /// When we last wrote.
    last_write: Option<Instant>,
    /// The last write before the first read that followed a write, and that read.
    answer: Option<(Instant, Instant)>,
}

/// What a [`Tap`] saw, readable while the tapped stream is owned elsewhere.
#[derive(Debug, Clone, Default)]
pub(crate) struct TapHandle(Arc<Mutex<TapState>>);

impl TapHandle {
    fn with<R>(&self, f: impl FnOnce(&mut TapState) -> R) -> R {
        let mut guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }

    /// The first bytes (at most [`SNIFF_BYTES`]) the peer sent.
    pub(crate) fn first_bytes(&self) -> Vec<u8> {
        self.with(|s| s.first.clone())
    }

    /// Whether the peer has sent anything at all.
    pub(crate) fn received_any(&self) -> bool {
        self.with(|s| !s.first.is_empty())
    }

    /// From the last write before the peer's answer to its first byte.
    pub(crate) fn first_byte_delay(&self) -> Option<Duration> {
        self.with(|s| s.answer.map(|(w, r)| r.saturating_duration_since(w)))
    }

    /// The peer's first bytes are the start of a plain HTTP response.
    pub(crate) fn peer_spoke_http(&self) -> bool {
        looks_like_http(&self.first_bytes())
    }

    /// The peer's first bytes are a TLS record (handshake or alert).
    pub(crate) fn peer_spoke_tls(&self) -> bool {
        looks_like_tls(&self.first_bytes())
    }
}

/// Plain HTTP response bytes.
pub(crate) fn looks_like_http(b: &[u8]) -> bool {
    b.starts_with(b"HTTP/")
}

/// A TLS record header: alert (0x15) or handshake (0x16), version major 3.
pub(crate) fn looks_like_tls(b: &[u8]) -> bool {
    matches!(b, [0x15 | 0x16, 0x03, ..])
}

/// A stream wrapper recording what the peer sent first and when.
#[derive(Debug)]
pub(crate) struct Tap<S> {
    inner: S,
    seen: TapHandle,
}

impl<S> Tap<S> {
    /// Tap `inner`; the handle stays readable after the tap is moved away.
    pub(crate) fn new(inner: S) -> (Self, TapHandle) {
        let seen = TapHandle::default();
        (
            Self {
                inner,
                seen: seen.clone(),
            },
            seen,
        )
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tap<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let new = &buf.filled()[before..];
        if !new.is_empty() {
            let now = Instant::now();
            this.seen.with(|s| {
                if s.first.len() < SNIFF_BYTES {
                    let take = (SNIFF_BYTES - s.first.len()).min(new.len());
                    s.first.extend_from_slice(&new[..take]);
                }
                if s.answer.is_none()
                    && let Some(w) = s.last_write
                {
                    s.answer = Some((w, now));
                }
            });
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tap<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = ready!(Pin::new(&mut this.inner).poll_write(cx, buf))?;
        if n > 0 {
            this.note_write();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, bufs))?;
        if n > 0 {
            this.note_write();
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl<S> Tap<S> {
    fn note_write(&self) {
        let now = Instant::now();
        self.seen.with(|s| {
            if s.answer.is_none() {
                s.last_write = Some(now);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(
            split_host_port("example.com:8443", 443),
            Some(("example.com".into(), 8443))
        );
        assert_eq!(
            split_host_port("example.com", 443),
            Some(("example.com".into(), 443))
        );
        assert_eq!(
            split_host_port("[::1]:8443", 443),
            Some(("::1".into(), 8443))
        );
        assert_eq!(split_host_port("[::1]", 443), Some(("::1".into(), 443)));
        assert_eq!(split_host_port("::1", 443), Some(("::1".into(), 443)));
        assert_eq!(
            split_host_port("127.0.0.1:1", 443),
            Some(("127.0.0.1".into(), 1))
        );
        assert_eq!(split_host_port("host:notaport", 443), None);
        assert_eq!(split_host_port("", 443), None);
    }

    #[test]
    fn sniffing() {
        assert!(looks_like_http(b"HTTP/1.1 400 Bad Request"));
        assert!(looks_like_tls(&[0x15, 0x03, 0x03, 0x00, 0x02]));
        assert!(looks_like_tls(&[0x16, 0x03, 0x01]));
        assert!(!looks_like_tls(b"HTTP/1.1"));
        assert!(!looks_like_tls(&[0x16]));
    }
}

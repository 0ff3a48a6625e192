//! The redis probe: what `redis-cli PING` and `redis-cli INFO` tell a person
//! about a cache behind a 5xx — does Redis answer, does it let us in, is it
//! loading, full of clients, out of memory, or refusing writes because its
//! last save failed (`MISCONF`).
//!
//! Commands go one at a time over a connection the probe owns, encoded and
//! parsed by the `redis` crate, so an error Redis sends before any command
//! (`-ERR max number of clients reached`) is read as the first reply instead
//! of being lost. The password is used for `AUTH` and never recorded.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ::redis::{ServerError, Value};
use combine::parser::combinator::AnySendSyncPartialState;
use combine::stream::{Decoder, PointerOffset};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout_at;
use url::{Host, Url};

use crate::{Failure, FailureKind, Millis, Phase, ProbeContext, net, redact};

/// The port when the URL names none.
pub const DEFAULT_PORT: u16 = 6379;
/// Most bytes read for one reply (`INFO` is a few KiB); a longer reply is
/// a [`FailureKind::LimitExceeded`].
pub const MAX_REPLY_BYTES: u64 = 1024 * 1024;

/// One Redis server to look at.
#[derive(Debug, Clone)]
pub struct RedisSpec {
    /// `redis://[[user]:password@]host[:port][/db]`. The password is a
    /// secret: never log the URL whole (see [`redact::url`]).
    pub url: Url,
    /// Budget for the whole probe: connect, `AUTH`, `PING` and `INFO`.
    pub timeout: Duration,
}

impl RedisSpec {
    /// A probe of `url` within `timeout`.
    pub fn new(url: Url, timeout: Duration) -> Self {
        Self { url, timeout }
    }
}

/// What the probe saw. Counters and sizes come from `INFO`; a field the
/// server does not report is absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RedisObservation {
    /// The address that accepted the TCP connection.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub remote_addr: Option<SocketAddr>,
    /// Name resolution.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dns: Option<Millis>,
    /// TCP connect.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub connect: Option<Millis>,
    /// The `AUTH` round trip, when the URL has a password.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub auth: Option<Millis>,
    /// The `PING` → `PONG` round trip.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ping: Option<Millis>,
    /// A Redis server answered: a reply or an error in the Redis protocol.
    pub server_answered: bool,
    /// The code of the server's error reply, when it sent one (`NOAUTH`,
    /// `WRONGPASS`, `LOADING`, `MISCONF`, `ERR`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error_code: Option<String>,
    /// `redis_version`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub redis_version: Option<String>,
    /// `role`: `master` or `slave` (a replica refuses writes).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub role: Option<String>,
    /// `uptime_in_seconds`: a small value means a recent restart.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub uptime_seconds: Option<u64>,
    /// `connected_clients`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub connected_clients: Option<u64>,
    /// `maxclients` (from `INFO`, else `CONFIG GET maxclients` when allowed).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub maxclients: Option<u64>,
    /// `blocked_clients`: clients waiting in a blocking command.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub blocked_clients: Option<u64>,
    /// `rejected_connections` since start (the `maxclients` limit).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rejected_connections: Option<u64>,
    /// `used_memory`, bytes.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub used_memory_bytes: Option<u64>,
    /// `maxmemory`, bytes; 0 means no limit.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub maxmemory_bytes: Option<u64>,
    /// `maxmemory_policy`: `noeviction` makes writes fail at the limit.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub maxmemory_policy: Option<String>,
    /// `evicted_keys` since start.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub evicted_keys: Option<u64>,
    /// `loading`: the dataset is being loaded from disk.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub loading: Option<bool>,
    /// `rdb_last_bgsave_status`: `ok` or `err`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rdb_last_bgsave_status: Option<String>,
    /// `aof_last_write_status`: `ok` or `err`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub aof_last_write_status: Option<String>,
    /// Writes are refused with `MISCONF`: the last RDB save failed and
    /// `stop-writes-on-bgsave-error` is on (assumed on, its default, when
    /// `CONFIG GET` is not allowed), or the last AOF write failed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub writes_refused: Option<bool>,
    /// Why `INFO` could not be read, when `PING` worked but it did not.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub info_error: Option<String>,
    /// What went wrong: DNS, connect, `AUTH` or `PING`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
}

/// Connect, `AUTH` when the URL has a password, `SELECT` its database,
/// `PING`, then `INFO` — all within `spec.timeout`.
pub async fn run(spec: &RedisSpec, _ctx: &ProbeContext) -> RedisObservation {
    let deadline = net::deadline_after(spec.timeout);
    let mut obs = RedisObservation::default();
    if let Err(failure) = probe(spec, deadline, &mut obs).await {
        obs.failure = Some(failure);
    }
    obs
}

/// Where to connect and how to log in.
struct Target {
    host: String,
    port: u16,
    user: Option<String>,
    password: Option<String>,
    db: i64,
}

fn target(url: &Url) -> Result<Target, Failure> {
    let bad = |what: &str| {
        Failure::new(
            FailureKind::Other,
            Phase::Dns,
            format!("{what}: {}", redact::url(url)),
        )
    };
    match url.scheme() {
        "redis" | "valkey" => {}
        "rediss" | "valkeys" => return Err(bad("TLS (rediss://) is not supported by this probe")),
        _ => return Err(bad("not a redis:// URL")),
    }
    let host = match url.host() {
        Some(Host::Ipv6(ip)) => ip.to_string(),
        Some(Host::Ipv4(ip)) => ip.to_string(),
        Some(Host::Domain(d)) if !d.is_empty() => d.to_string(),
        _ => return Err(bad("no host")),
    };
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let db = match url.path().trim_start_matches('/') {
        "" => 0,
        n => n.parse().map_err(|_| bad("the database is not a number"))?,
    };
    Ok(Target {
        host,
        port: url.port().unwrap_or(DEFAULT_PORT),
        user: Some(decode(url.username())).filter(|u| !u.is_empty()),
        password: url.password().map(decode).filter(|p| !p.is_empty()),
        db,
    })
}

async fn probe(
    spec: &RedisSpec,
    deadline: tokio::time::Instant,
    obs: &mut RedisObservation,
) -> Result<(), Failure> {
    let target = target(&spec.url)?;
    let t = Instant::now();
    let addrs = if let Ok(ip) = target.host.parse() {
        vec![SocketAddr::new(ip, target.port)]
    } else {
        let resolved = net::resolve(&target.host, target.port, deadline).await;
        obs.dns = Some(t.elapsed().into());
        resolved?
    };
    let t = Instant::now();
    let connected = net::connect(&addrs, deadline).await;
    obs.connect = Some(t.elapsed().into());
    let (stream, addr) = connected?;
    obs.remote_addr = Some(addr);
    let mut conn = Conn::new(stream, addr, deadline);

    if let Some(password) = &target.password {
        let mut auth = ::redis::cmd("AUTH");
        if let Some(user) = &target.user {
            auth.arg(user);
        }
        auth.arg(password);
        let t = Instant::now();
        let reply = conn.call(&auth, "AUTH").await;
        obs.auth = Some(t.elapsed().into());
        conn.expect_ok(reply, obs, Some(FailureKind::AuthenticationFailed))?;
    }
    if target.db != 0 {
        let reply = conn
            .call(::redis::cmd("SELECT").arg(target.db), "SELECT")
            .await;
        conn.expect_ok(reply, obs, None)?;
    }

    let t = Instant::now();
    let reply = conn.call(&::redis::cmd("PING"), "PING").await;
    let elapsed = t.elapsed();
    match conn.expect_ok(reply, obs, None) {
        Ok(()) => obs.ping = Some(elapsed.into()),
        // A loading server still answers INFO: read it for the details.
        Err(f) if obs.error_code.as_deref() == Some("LOADING") => {
            obs.failure = Some(f);
        }
        Err(f) => return Err(f),
    }

    match conn.call(&::redis::cmd("INFO"), "INFO").await {
        Ok(Value::ServerError(e)) => obs.info_error = Some(server_error_text(&e)),
        Ok(v) => match text(&v) {
            Some(info) => apply_info(&parse_info(&info), obs),
            None => obs.info_error = Some("INFO did not return text".to_string()),
        },
        Err(f) => {
            obs.info_error = Some(f.detail);
            return Ok(());
        }
    }
    // Both only when INFO left them open, and only if the server allows
    // CONFIG GET (managed services often rename or forbid it).
    if obs.maxclients.is_none() {
        obs.maxclients = conn
            .config_get("maxclients")
            .await
            .and_then(|v| v.parse().ok());
    }
    if obs.rdb_last_bgsave_status.as_deref() == Some("err") {
        let stops = conn.config_get("stop-writes-on-bgsave-error").await;
        obs.writes_refused = Some(stops.as_deref() != Some("no"));
    } else if obs.rdb_last_bgsave_status.is_some() {
        obs.writes_refused = Some(obs.aof_last_write_status.as_deref() == Some("err"));
    }
    Ok(())
}

/// A connection that sends one command and reads its one reply, before the
/// probe's deadline.
struct Conn {
    stream: net::Tap<TcpStream>,
    seen: net::TapHandle,
    decoder: Decoder<AnySendSyncPartialState, PointerOffset<[u8]>>,
    addr: SocketAddr,
    deadline: tokio::time::Instant,
}

impl Conn {
    fn new(stream: TcpStream, addr: SocketAddr, deadline: tokio::time::Instant) -> Self {
        let (stream, seen) = net::Tap::new(stream);
        Self {
            stream,
            seen,
            decoder: Decoder::new(),
            addr,
            deadline,
        }
    }

    /// Send `cmd` and read one reply. A server error reply is an `Ok`
    /// [`Value::ServerError`]; `Err` is a transport or protocol failure.
    async fn call(&mut self, cmd: &::redis::Cmd, what: &str) -> Result<Value, Failure> {
        let what = format!("{what} to {}", self.addr);
        let deadline = self.deadline;
        let exchange = async {
            if let Err(e) = self.stream.write_all(&cmd.get_packed_command()).await {
                // The server may have sent an error and closed before the
                // command (max clients): read that error rather than the
                // broken pipe.
                if !self.seen.received_any() {
                    return Err(Failure::from_io(&e, Phase::Request, &what));
                }
            }
            // A hostile server's `$2000000000` must not become 2 GB here.
            let mut limited = (&mut self.stream).take(MAX_REPLY_BYTES);
            let reply = ::redis::parse_redis_value_async(&mut self.decoder, &mut limited).await;
            let exhausted = limited.limit() == 0;
            reply.map_err(|e| {
                if exhausted {
                    Failure::new(
                        FailureKind::LimitExceeded,
                        Phase::FirstByte,
                        format!("{what}: reply larger than {MAX_REPLY_BYTES} bytes"),
                    )
                } else {
                    self.transport_failure(&e, &what)
                }
            })
        };
        match timeout_at(deadline, exchange).await {
            Ok(result) => result,
            Err(_) => Err(Failure::timeout(
                Phase::FirstByte,
                format!("{what}: no answer in time"),
            )),
        }
    }

    /// Classify an error reading a reply: the peer closed or reset, or sent
    /// something that is not the Redis protocol.
    fn transport_failure(&self, e: &::redis::RedisError, what: &str) -> Failure {
        if self.seen.peer_spoke_http() {
            return Failure::new(
                FailureKind::InvalidResponse,
                Phase::FirstByte,
                format!("{what}: an HTTP server answered, not Redis"),
            );
        }
        let first = self.seen.first_bytes();
        if !first.is_empty() && !looks_like_resp(&first) {
            return Failure::new(
                FailureKind::InvalidResponse,
                Phase::FirstByte,
                format!(
                    "{what}: the answer is not the Redis protocol (first bytes {})",
                    first.escape_ascii()
                ),
            );
        }
        let io = std::error::Error::source(e).and_then(|s| s.downcast_ref::<std::io::Error>());
        if let Some(io) = io {
            return Failure::from_io(io, Phase::FirstByte, what);
        }
        let kind = match e.kind() {
            ::redis::ErrorKind::Parse => FailureKind::InvalidResponse,
            _ if e.is_connection_dropped() || e.is_io_error() => FailureKind::ClosedBeforeResponse,
            _ => FailureKind::Other,
        };
        Failure::new(kind, Phase::FirstByte, format!("{what}: {e}"))
    }

    /// Turn a reply that should be `OK`/`PONG` into a result; a server error
    /// is classified from its code (or as `forced`), and recorded.
    fn expect_ok(
        &self,
        reply: Result<Value, Failure>,
        obs: &mut RedisObservation,
        forced: Option<FailureKind>,
    ) -> Result<(), Failure> {
        let value = reply?;
        obs.server_answered = true;
        match value {
            Value::ServerError(e) => {
                obs.error_code = Some(e.code().to_string());
                let mut kind = classify_error(e.code(), e.details().unwrap_or(""));
                if let Some(forced) = forced
                    && kind == FailureKind::Other
                {
                    kind = forced;
                }
                Err(Failure::new(
                    kind,
                    Phase::FirstByte,
                    format!("{}: {}", self.addr, server_error_text(&e)),
                ))
            }
            _ => Ok(()),
        }
    }

    /// `CONFIG GET name`, or `None` when the server does not allow it.
    async fn config_get(&mut self, name: &str) -> Option<String> {
        let reply = self
            .call(::redis::cmd("CONFIG").arg("GET").arg(name), "CONFIG GET")
            .await
            .ok()?;
        match reply {
            Value::Array(items) => items.get(1).and_then(text),
            Value::Map(pairs) => pairs.first().and_then(|(_, v)| text(v)),
            _ => None,
        }
    }
}

/// The first byte of a reply in RESP2 or RESP3.
fn looks_like_resp(first: &[u8]) -> bool {
    matches!(
        first.first(),
        Some(
            b'+' | b'-'
                | b':'
                | b'$'
                | b'*'
                | b'_'
                | b','
                | b'#'
                | b'!'
                | b'='
                | b'('
                | b'%'
                | b'~'
                | b'>'
                | b'|'
        )
    )
}

/// The class of a Redis error reply, from its code and message.
pub fn classify_error(code: &str, detail: &str) -> FailureKind {
    let detail = detail.to_ascii_lowercase();
    match code {
        "NOAUTH" | "WRONGPASS" | "NOPERM" | "DENIED" => FailureKind::AuthenticationFailed,
        "LOADING" | "MISCONF" | "BUSY" | "MASTERDOWN" | "TRYAGAIN" | "CLUSTERDOWN" | "OOM" => {
            FailureKind::Unavailable
        }
        "ERR" if detail.contains("max number of clients") => FailureKind::Unavailable,
        "ERR" if detail.contains("invalid password") || detail.contains("invalid username") => {
            FailureKind::AuthenticationFailed
        }
        _ => FailureKind::Other,
    }
}

/// `CODE message` as the server sent it.
fn server_error_text(e: &ServerError) -> String {
    match e.details() {
        Some(d) => format!("{} {}", e.code(), redact::text(d)),
        None => e.code().to_string(),
    }
}

/// A string-like reply as text.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) | Value::VerbatimString { text: s, .. } => Some(s.clone()),
        Value::Okay => Some("OK".to_string()),
        Value::Int(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Parse `INFO` output: `key:value` lines, `# Section` headers and blank
/// lines skipped. Later keys win (they do not repeat across sections).
pub fn parse_info(info: &str) -> BTreeMap<String, String> {
    info.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Copy the fields the probe reports from parsed `INFO`.
fn apply_info(info: &BTreeMap<String, String>, obs: &mut RedisObservation) {
    let s = |k: &str| info.get(k).cloned();
    let n = |k: &str| info.get(k).and_then(|v| v.parse::<u64>().ok());
    obs.redis_version = s("redis_version");
    obs.role = s("role");
    obs.uptime_seconds = n("uptime_in_seconds");
    obs.connected_clients = n("connected_clients");
    obs.maxclients = n("maxclients");
    obs.blocked_clients = n("blocked_clients");
    obs.rejected_connections = n("rejected_connections");
    obs.used_memory_bytes = n("used_memory");
    obs.maxmemory_bytes = n("maxmemory");
    obs.maxmemory_policy = s("maxmemory_policy");
    obs.evicted_keys = n("evicted_keys");
    obs.loading = n("loading").map(|v| v != 0);
    obs.rdb_last_bgsave_status = s("rdb_last_bgsave_status");
    obs.aof_last_write_status = s("aof_last_write_status");
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "# Server\r\nredis_version:7.0.15\r\nuptime_in_seconds:42\r\n\r\n\
        # Clients\r\nconnected_clients:3\r\nmaxclients:10000\r\nblocked_clients:1\r\n\r\n\
        # Memory\r\nused_memory:1048576\r\nmaxmemory:0\r\nmaxmemory_policy:noeviction\r\n\r\n\
        # Persistence\r\nloading:0\r\nrdb_last_bgsave_status:err\r\naof_last_write_status:ok\r\n\r\n\
        # Stats\r\nrejected_connections:7\r\nevicted_keys:0\r\n\r\n# Replication\r\nrole:master\r\n";

    #[test]
    fn info_fields_are_read() {
        let mut obs = RedisObservation::default();
        apply_info(&parse_info(INFO), &mut obs);
        assert_eq!(obs.redis_version.as_deref(), Some("7.0.15"));
        assert_eq!(obs.uptime_seconds, Some(42));
        assert_eq!(obs.connected_clients, Some(3));
        assert_eq!(obs.maxclients, Some(10000));
        assert_eq!(obs.blocked_clients, Some(1));
        assert_eq!(obs.used_memory_bytes, Some(1_048_576));
        assert_eq!(obs.maxmemory_bytes, Some(0));
        assert_eq!(obs.maxmemory_policy.as_deref(), Some("noeviction"));
        assert_eq!(obs.loading, Some(false));
        assert_eq!(obs.rdb_last_bgsave_status.as_deref(), Some("err"));
        assert_eq!(obs.rejected_connections, Some(7));
        assert_eq!(obs.evicted_keys, Some(0));
        assert_eq!(obs.role.as_deref(), Some("master"));
    }

    #[test]
    fn error_replies_are_classified() {
        use FailureKind::{AuthenticationFailed, Other, Unavailable};
        let cases = [
            ("NOAUTH", "Authentication required.", AuthenticationFailed),
            (
                "WRONGPASS",
                "invalid username-password pair or user is disabled.",
                AuthenticationFailed,
            ),
            ("ERR", "invalid password", AuthenticationFailed),
            (
                "LOADING",
                "Redis is loading the dataset in memory",
                Unavailable,
            ),
            (
                "MISCONF",
                "Redis is configured to save RDB snapshots",
                Unavailable,
            ),
            ("ERR", "max number of clients reached", Unavailable),
            ("ERR", "unknown command 'PING'", Other),
        ];
        for (code, detail, kind) in cases {
            assert_eq!(classify_error(code, detail), kind, "{code} {detail}");
        }
    }

    #[test]
    fn url_forms() {
        let t = target(&Url::parse("redis://:s%40cret@cache:6380/2").unwrap()).unwrap();
        assert_eq!((t.host.as_str(), t.port, t.db), ("cache", 6380, 2));
        assert_eq!(t.user, None);
        assert_eq!(t.password.as_deref(), Some("s@cret"));
        let t = target(&Url::parse("redis://app:pw@[::1]").unwrap()).unwrap();
        assert_eq!((t.host.as_str(), t.port, t.db), ("::1", DEFAULT_PORT, 0));
        assert_eq!(t.user.as_deref(), Some("app"));
        let f = target(&Url::parse("rediss://u:hunter2@cache/0").unwrap())
            .err()
            .unwrap();
        assert!(!f.detail.contains("hunter2"), "{f:?}");
    }
}

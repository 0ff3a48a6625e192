//! The postgres probe: what `psql -c 'SELECT 1'` and a look at
//! `pg_stat_activity` tell a person about a database behind a 5xx — does a
//! Postgres server answer, does it let us in, how full is it, and which
//! sessions run long or wait on a lock, and who blocks them.
//!
//! Without working credentials the login attempt still proves (or disproves)
//! a live Postgres server: an error response with a SQLSTATE comes only
//! from one. The password in the URL is used to log in and never recorded;
//! server messages and query texts pass through [`redact::text`].

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::time::timeout_at;
use tokio_postgres::config::SslMode;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, NoTls, Row, SimpleQueryMessage};
use url::{Host, Url};

use crate::{Failure, FailureKind, Millis, Phase, ProbeContext, net, redact};

/// The port when the URL names none.
pub const DEFAULT_PORT: u16 = 5432;
/// Most bytes read from the server in one probe (login, `SELECT 1` and the
/// statistics are a few KiB); past it the probe fails with
/// [`FailureKind::LimitExceeded`].
pub const MAX_READ_BYTES: u64 = 8 * 1024 * 1024;
/// Active queries older than this are reported as long-running by default.
pub const DEFAULT_LONG_RUNNING: Duration = Duration::from_secs(5);
/// Most sessions reported in each list.
pub const MAX_SESSIONS: usize = 20;
/// Most characters of a session's query text recorded.
pub const QUERY_EXCERPT: usize = 200;
/// The user name tried when the URL names none: it shows in the server's log
/// as this probe.
pub const ANONYMOUS_USER: &str = "why5xx_probe";
/// The password sent when the URL has none and the server asks for one: the
/// login then fails with a Postgres error, which still proves the server.
const NO_PASSWORD: &str = "why5xx-probe-without-password";

/// One Postgres server to look at.
#[derive(Debug, Clone)]
pub struct PostgresSpec {
    /// `postgres://[user[:password]@]host[:port][/database]`. The password is
    /// a secret: never log the URL whole (see [`redact::url`]).
    pub url: Url,
    /// Budget for the whole probe: connect, login and every query.
    pub timeout: Duration,
    /// Active queries running longer than this are reported as long-running.
    pub long_running: Duration,
}

impl PostgresSpec {
    /// A probe of `url` with the default long-running threshold (5 s).
    pub fn new(url: Url, timeout: Duration) -> Self {
        Self {
            url,
            timeout,
            long_running: DEFAULT_LONG_RUNNING,
        }
    }
}

/// One server session from `pg_stat_activity`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PgSession {
    /// The backend's process id.
    pub pid: i32,
    /// `active`, `idle in transaction`, ...
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub state: Option<String>,
    /// `Lock`, `LWLock`, `IO`, `Client`, ... when the session waits.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub wait_event_type: Option<String>,
    /// `relation`, `transactionid`, ... when the session waits.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub wait_event: Option<String>,
    /// How long its current (or last) query has run.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub query_duration: Option<Millis>,
    /// How long its transaction has been open.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub transaction_duration: Option<Millis>,
    /// The pids holding the lock it waits for (`pg_blocking_pids`).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub blocked_by: Vec<i32>,
    /// The session's role.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub user: Option<String>,
    /// The client's `application_name`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub application_name: Option<String>,
    /// The first 200 characters of the query text, secrets redacted.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub query: Option<String>,
}

/// What the probe saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PostgresObservation {
    /// The address that accepted the TCP connection.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub remote_addr: Option<SocketAddr>,
    /// The user name the login used (the URL's, else [`ANONYMOUS_USER`]).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub user: Option<String>,
    /// Name resolution.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dns: Option<Millis>,
    /// TCP connect.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub connect: Option<Millis>,
    /// From the startup message to the server ready for queries (or its
    /// refusal): the handshake and the authentication.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub login: Option<Millis>,
    /// A Postgres server answered: it let us in or sent a Postgres error.
    pub server_answered: bool,
    /// The login succeeded.
    pub logged_in: bool,
    /// The SQLSTATE of the server's error, when it sent one (`28P01`, `53300`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sqlstate: Option<String>,
    /// One `SELECT 1` round trip.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub select_one: Option<Millis>,
    /// `server_version`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub server_version: Option<String>,
    /// `max_connections`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub max_connections: Option<u32>,
    /// `superuser_reserved_connections`: slots ordinary roles cannot use.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reserved_connections: Option<u32>,
    /// Client backends connected now, this probe included.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub connections: Option<u32>,
    /// The threshold used for [`Self::long_running`].
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub long_running_threshold: Option<Millis>,
    /// How many active queries run longer than the threshold (all of them).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub long_running_count: Option<u32>,
    /// How many sessions wait on a lock (all of them).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lock_waiting_count: Option<u32>,
    /// Whether the login may see every session's state and query (a
    /// superuser, or a member of `pg_read_all_stats` / `pg_monitor`). When
    /// false, other roles' sessions show no state, wait or query, so the
    /// counts and lists below only cover the login's own role.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sees_all_sessions: Option<bool>,
    /// The longest-running active queries, at most [`MAX_SESSIONS`].
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub long_running: Vec<PgSession>,
    /// Sessions waiting on a lock, longest first, at most [`MAX_SESSIONS`].
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub lock_waiting: Vec<PgSession>,
    /// Sessions holding a lock others wait for, at most [`MAX_SESSIONS`].
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub blocking: Vec<PgSession>,
    /// Why the statistics queries failed, when `SELECT 1` worked but they
    /// did not (a permission, a statement timeout).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stats_error: Option<String>,
    /// What went wrong: DNS, connect, login or `SELECT 1`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
}

/// Connect, log in, `SELECT 1`, and read the server's connection counts and
/// problem sessions — all within `spec.timeout`.
pub async fn run(spec: &PostgresSpec, _ctx: &ProbeContext) -> PostgresObservation {
    let deadline = net::deadline_after(spec.timeout);
    let mut obs = PostgresObservation::default();
    if let Err(failure) = probe(spec, deadline, &mut obs).await {
        obs.failure = Some(failure);
    }
    obs
}

/// Where the login connection goes and as whom.
struct Target {
    host: String,
    port: u16,
    user: String,
    password: String,
    dbname: Option<String>,
}

fn target(url: &Url) -> Result<Target, Failure> {
    let bad = |what: &str| {
        Failure::new(
            FailureKind::Other,
            Phase::Dns,
            format!("{what} in {}", redact::url(url)),
        )
    };
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return Err(bad("not a postgres:// URL"));
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
    let user = Some(decode(url.username()))
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| ANONYMOUS_USER.to_string());
    let password = url
        .password()
        .map(decode)
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| NO_PASSWORD.to_string());
    let dbname = Some(decode(url.path().trim_start_matches('/'))).filter(|d| !d.is_empty());
    Ok(Target {
        host,
        port: url.port().unwrap_or(DEFAULT_PORT),
        user,
        password,
        dbname,
    })
}

async fn probe(
    spec: &PostgresSpec,
    deadline: tokio::time::Instant,
    obs: &mut PostgresObservation,
) -> Result<(), Failure> {
    let target = target(&spec.url)?;
    obs.user = Some(target.user.clone());

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

    let mut config = tokio_postgres::Config::new();
    config
        .user(&target.user)
        .password(&target.password)
        .application_name("why5xx")
        .ssl_mode(SslMode::Disable);
    if let Some(db) = &target.dbname {
        config.dbname(db);
    }
    let (tap, seen) = net::Tap::new(net::ReadBudget::new(stream, MAX_READ_BYTES));
    let t = Instant::now();
    let login = timeout_at(deadline, config.connect_raw(tap, NoTls)).await;
    obs.login = Some(t.elapsed().into());
    let (client, connection) = match login {
        Err(_) => {
            obs.server_answered = seen.received_any() && answered_as_postgres(&seen.first_bytes());
            return Err(Failure::timeout(
                Phase::FirstByte,
                format!("login to {addr}: no answer in time"),
            ));
        }
        Ok(Err(e)) => return Err(login_failure(&e, &seen, addr, obs)),
        Ok(Ok(pair)) => pair,
    };
    obs.server_answered = true;
    obs.logged_in = true;
    // The connection task ends when the client is dropped; abort it anyway
    // so nothing outlives the probe.
    let driver = AbortOnDrop(tokio::spawn(async move {
        let _ = connection.await;
    }));

    let t = Instant::now();
    match timeout_at(deadline, client.simple_query("SELECT 1")).await {
        Err(_) => {
            return Err(Failure::timeout(
                Phase::FirstByte,
                format!("SELECT 1 on {addr}: no answer in time"),
            ));
        }
        Ok(Err(e)) => return Err(query_failure(&e, "SELECT 1", obs)),
        Ok(Ok(msgs)) => {
            obs.select_one = Some(t.elapsed().into());
            if !msgs
                .iter()
                .any(|m| matches!(m, SimpleQueryMessage::Row(r) if r.get(0) == Some("1")))
            {
                return Err(Failure::new(
                    FailureKind::InvalidResponse,
                    Phase::Body,
                    "SELECT 1 did not return 1",
                ));
            }
        }
    }

    obs.long_running_threshold = Some(spec.long_running.into());
    if let Err(e) = timeout_at(deadline, stats(&client, spec.long_running, deadline, obs)).await {
        obs.stats_error = Some(format!("statistics queries: timed out ({e})"));
    }
    drop(client);
    drop(driver);
    Ok(())
}

/// The statistics queries, in a read-only transaction whose statements time
/// out on the server before the probe's deadline: the probe never leaves a
/// session stuck behind a lock. Errors land in `stats_error`.
async fn stats(
    client: &Client,
    long_running: Duration,
    deadline: tokio::time::Instant,
    obs: &mut PostgresObservation,
) {
    let left = deadline
        .saturating_duration_since(tokio::time::Instant::now())
        .as_millis()
        .max(1);
    let setup = format!(
        "BEGIN READ ONLY; SET LOCAL statement_timeout = {left}; SET LOCAL lock_timeout = {left}"
    );
    let threshold = long_running.as_secs_f64();
    let result = async {
        client.batch_execute(&setup).await?;
        let row = client
            .query_typed_one(SETTINGS_SQL, &[(&threshold, Type::FLOAT8)])
            .await?;
        read_settings(&row, obs)?;
        let rows = client
            .query_typed(SESSIONS_SQL, &[(&threshold, Type::FLOAT8)])
            .await?;
        read_sessions(&rows, obs)?;
        client.batch_execute("COMMIT").await
    }
    .await;
    if let Err(e) = result {
        obs.stats_error = Some(redact::text(&error_text(&e)));
    }
}

const SETTINGS_SQL: &str = "SELECT current_setting('server_version'), \
     current_setting('max_connections')::int4, \
     current_setting('superuser_reserved_connections')::int4, \
     (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int4, \
     (SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND state = 'active' \
        AND now() - query_start > make_interval(secs => $1))::int4, \
     (SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() \
        AND wait_event_type = 'Lock')::int4, \
     (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) \
        OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')";

/// Long-running and lock-waiting sessions, and the sessions the waiters wait
/// for. `pg_blocking_pids` takes the lock manager's locks: it is called only
/// for sessions that wait on a lock.
const SESSIONS_SQL: &str = "WITH a AS ( \
       SELECT pid, state, wait_event_type, wait_event, usename::text AS usename, \
         application_name, \
         extract(epoch FROM now() - query_start)::float8 * 1000 AS query_ms, \
         extract(epoch FROM now() - xact_start)::float8 * 1000 AS xact_ms, \
         CASE WHEN wait_event_type = 'Lock' THEN pg_blocking_pids(pid) \
           ELSE '{}'::int4[] END AS blocked_by, \
         left(query, 200) AS query, \
         state = 'active' AND now() - query_start > make_interval(secs => $1) AS long_running, \
         wait_event_type IS NOT DISTINCT FROM 'Lock' AS waiting \
       FROM pg_stat_activity WHERE pid <> pg_backend_pid()), \
     b AS (SELECT DISTINCT unnest(blocked_by) AS pid FROM a) \
     SELECT a.*, a.pid IN (SELECT pid FROM b) AS blocking FROM a \
     WHERE long_running OR waiting OR a.pid IN (SELECT pid FROM b) \
     ORDER BY query_ms DESC NULLS LAST LIMIT 100";

fn read_settings(row: &Row, obs: &mut PostgresObservation) -> Result<(), tokio_postgres::Error> {
    let count = |i: usize| -> Result<Option<u32>, tokio_postgres::Error> {
        Ok(row.try_get::<_, Option<i32>>(i)?.map(|n| n.max(0) as u32))
    };
    obs.server_version = row.try_get(0)?;
    obs.max_connections = count(1)?;
    obs.reserved_connections = count(2)?;
    obs.connections = count(3)?;
    obs.long_running_count = count(4)?;
    obs.lock_waiting_count = count(5)?;
    obs.sees_all_sessions = row.try_get(6)?;
    Ok(())
}

fn read_sessions(rows: &[Row], obs: &mut PostgresObservation) -> Result<(), tokio_postgres::Error> {
    for row in rows {
        let ms = |name: &str| -> Result<Option<Millis>, tokio_postgres::Error> {
            Ok(row.try_get::<_, Option<f64>>(name)?.map(Millis))
        };
        let session = PgSession {
            pid: row.try_get("pid")?,
            state: row.try_get("state")?,
            wait_event_type: row.try_get("wait_event_type")?,
            wait_event: row.try_get("wait_event")?,
            query_duration: ms("query_ms")?,
            transaction_duration: ms("xact_ms")?,
            blocked_by: row
                .try_get::<_, Option<Vec<i32>>>("blocked_by")?
                .unwrap_or_default(),
            user: row.try_get("usename")?,
            application_name: row
                .try_get::<_, Option<String>>("application_name")?
                .filter(|s| !s.is_empty()),
            query: row
                .try_get::<_, Option<String>>("query")?
                .map(|q| redact::text(&q.chars().take(QUERY_EXCERPT).collect::<String>())),
        };
        let flag = |name: &str| -> Result<bool, tokio_postgres::Error> {
            Ok(row.try_get::<_, Option<bool>>(name)?.unwrap_or(false))
        };
        for (on, list) in [
            (flag("long_running")?, &mut obs.long_running),
            (flag("waiting")?, &mut obs.lock_waiting),
            (flag("blocking")?, &mut obs.blocking),
        ] {
            if on && list.len() < MAX_SESSIONS {
                list.push(session.clone());
            }
        }
    }
    Ok(())
}

/// Aborts a spawned task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The first byte of every message a Postgres server may send first after a
/// startup message: authentication request, error, notice, or protocol
/// version negotiation.
fn answered_as_postgres(first: &[u8]) -> bool {
    matches!(first.first(), Some(b'R' | b'E' | b'N' | b'v'))
}

/// The class a SQLSTATE puts a failed login or query in.
pub fn classify_sqlstate(code: &str) -> FailureKind {
    match code {
        // invalid_authorization_specification, invalid_password
        "28000" | "28P01" => FailureKind::AuthenticationFailed,
        // too_many_connections, cannot_connect_now (starting up, shutting
        // down, recovery), admin_shutdown, crash_shutdown, out of memory,
        // disk full, configuration limit exceeded
        "53300" | "57P03" | "57P01" | "57P02" | "53200" | "53100" | "53400" => {
            FailureKind::Unavailable
        }
        // invalid_catalog_name: the database does not exist
        "3D000" => FailureKind::NotFound,
        // query_canceled (statement_timeout), lock_not_available
        "57014" | "55P03" => FailureKind::Timeout,
        _ => FailureKind::Other,
    }
}

/// A failed login: a Postgres error proves the server; anything else is a
/// transport failure or a server that does not speak Postgres.
fn login_failure(
    e: &tokio_postgres::Error,
    seen: &net::TapHandle,
    addr: SocketAddr,
    obs: &mut PostgresObservation,
) -> Failure {
    if let Some(db) = e.as_db_error() {
        obs.server_answered = true;
        let code = db.code().code();
        obs.sqlstate = Some(code.to_string());
        return Failure::new(
            classify_sqlstate(code),
            Phase::FirstByte,
            format!(
                "login to {addr}: {} {code}: {}",
                db.severity(),
                redact::text(db.message())
            ),
        );
    }
    let first = seen.first_bytes();
    if seen.peer_spoke_http() {
        return Failure::new(
            FailureKind::InvalidResponse,
            Phase::FirstByte,
            format!("login to {addr}: an HTTP server answered, not PostgreSQL"),
        );
    }
    if !first.is_empty() && !answered_as_postgres(&first) {
        return Failure::new(
            FailureKind::InvalidResponse,
            Phase::FirstByte,
            format!(
                "login to {addr}: the answer is not PostgreSQL (first bytes {})",
                printable(&first)
            ),
        );
    }
    obs.server_answered = !first.is_empty();
    transport_failure(e, Phase::FirstByte, &format!("login to {addr}"))
}

/// A failed query after login.
fn query_failure(e: &tokio_postgres::Error, what: &str, obs: &mut PostgresObservation) -> Failure {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        obs.sqlstate = Some(code.to_string());
        return Failure::new(
            classify_sqlstate(code),
            Phase::FirstByte,
            format!(
                "{what}: {} {code}: {}",
                db.severity(),
                redact::text(db.message())
            ),
        );
    }
    transport_failure(e, Phase::FirstByte, what)
}

/// An error without a server error response: the socket's, or the protocol's.
fn transport_failure(e: &tokio_postgres::Error, phase: Phase, what: &str) -> Failure {
    let io = std::error::Error::source(e).and_then(|s| s.downcast_ref::<std::io::Error>());
    if let Some(io) = io {
        return Failure::from_io(io, phase, what);
    }
    let kind = if e.is_closed() {
        FailureKind::ClosedBeforeResponse
    } else {
        FailureKind::InvalidResponse
    };
    Failure::new(
        kind,
        phase,
        format!("{what}: {}", redact::text(&error_text(e))),
    )
}

/// The error with its sources, one line.
fn error_text(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} {}: {}", db.severity(), db.code().code(), db.message());
    }
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = inner.source();
    }
    s
}

/// Bytes as text a person can read: printable ASCII kept, the rest escaped.
fn printable(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_are_classified() {
        assert_eq!(
            classify_sqlstate("28P01"),
            FailureKind::AuthenticationFailed
        );
        assert_eq!(
            classify_sqlstate("28000"),
            FailureKind::AuthenticationFailed
        );
        assert_eq!(classify_sqlstate("53300"), FailureKind::Unavailable);
        assert_eq!(classify_sqlstate("57P03"), FailureKind::Unavailable);
        assert_eq!(classify_sqlstate("3D000"), FailureKind::NotFound);
        assert_eq!(classify_sqlstate("57014"), FailureKind::Timeout);
        assert_eq!(classify_sqlstate("42P01"), FailureKind::Other);
    }

    #[test]
    fn url_without_user_uses_the_probe_name_and_no_password() {
        let t = target(&Url::parse("postgres://db.internal/app").unwrap()).unwrap();
        assert_eq!(t.user, ANONYMOUS_USER);
        assert_eq!(t.password, NO_PASSWORD);
        assert_eq!(t.port, DEFAULT_PORT);
        assert_eq!(t.dbname.as_deref(), Some("app"));
    }

    #[test]
    fn url_credentials_are_percent_decoded() {
        let t = target(&Url::parse("postgresql://us%40r:p%3Ass@[::1]:6543/").unwrap()).unwrap();
        assert_eq!(t.host, "::1");
        assert_eq!(t.port, 6543);
        assert_eq!(t.user, "us@r");
        assert_eq!(t.password, "p:ss");
        assert_eq!(t.dbname, None);
    }

    #[test]
    fn other_schemes_are_refused_without_the_password() {
        let f = target(&Url::parse("mysql://u:hunter2@db/x").unwrap())
            .err()
            .unwrap();
        assert!(!f.detail.contains("hunter2"), "{f:?}");
    }
}

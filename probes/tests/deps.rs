//! Tests of the postgres and redis dependency probes against real servers the
//! tests start (Postgres via initdb, redis-server), plus plain TCP servers
//! that speak HTTP, say nothing, or give a protocol reply a real server gives
//! only in states hard to reach (starting up, loading).

use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use why5xx_probes::postgres::{self, PostgresObservation, PostgresSpec};
use why5xx_probes::redis::{self, RedisObservation, RedisSpec};
use why5xx_probes::{FailureKind, Phase, ProbeContext};

use crate::support::{self, PG_PASSWORD, PG_USER, Postgres, Redis};

const TIMEOUT: Duration = Duration::from_secs(5);
const HTTP_400: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
const REDIS_PASSWORD: &str = "redis-Hunter2-s3cret";

async fn pg(url: url::Url) -> PostgresObservation {
    postgres::run(&PostgresSpec::new(url, TIMEOUT), &ProbeContext::default()).await
}

async fn redis_probe(url: url::Url) -> RedisObservation {
    redis::run(&RedisSpec::new(url, TIMEOUT), &ProbeContext::default()).await
}

/// The observation serialized to JSON never holds `secret`, and the JSON
/// reads back into the same observation.
fn assert_secret_free<T>(obs: &T, secret: &str)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let json = serde_json::to_string(obs).unwrap();
    assert!(!json.contains(secret), "password leaked: {json}");
    assert!(
        !format!("{obs:?}").contains(secret),
        "password leaked: {obs:?}"
    );
    let back: T = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, obs, "{json}");
}

fn kind_and_phase(f: Option<&why5xx_probes::Failure>) -> (FailureKind, Phase) {
    let f = f.expect("a failure");
    (f.kind, f.phase)
}

async fn pid(c: &tokio_postgres::Client) -> i32 {
    c.query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0)
}

fn pg_url(addr: std::net::SocketAddr) -> url::Url {
    url::Url::parse(&format!(
        "postgres://{PG_USER}:{PG_PASSWORD}@{addr}/postgres"
    ))
    .unwrap()
}

fn redis_url(addr: std::net::SocketAddr) -> url::Url {
    url::Url::parse(&format!("redis://:{REDIS_PASSWORD}@{addr}")).unwrap()
}

// ---------------------------------------------------------------- postgres

#[tokio::test]
async fn postgres_with_good_credentials_runs_select_one_and_reads_the_counts() {
    let server = Postgres::start();
    let obs = pg(server.url()).await;
    assert!(obs.failure.is_none(), "{obs:?}\n{}", server.log());
    assert!(obs.server_answered && obs.logged_in, "{obs:?}");
    assert_eq!(obs.user.as_deref(), Some(PG_USER));
    assert_eq!(obs.remote_addr.unwrap().port(), server.port);
    assert!(obs.connect.is_some() && obs.login.is_some() && obs.select_one.is_some());
    assert!(obs.dns.is_none(), "an IP literal needs no DNS: {obs:?}");
    assert!(
        obs.server_version
            .as_deref()
            .unwrap()
            .starts_with(|c: char| c.is_ascii_digit()),
        "{obs:?}"
    );
    assert_eq!(obs.max_connections, Some(20));
    assert!(obs.reserved_connections.is_some(), "{obs:?}");
    // The probe's own session at least.
    assert!(obs.connections.unwrap() >= 1, "{obs:?}");
    assert_eq!(obs.long_running_count, Some(0));
    assert_eq!(obs.lock_waiting_count, Some(0));
    assert!(obs.long_running.is_empty() && obs.lock_waiting.is_empty() && obs.blocking.is_empty());
    assert!(obs.stats_error.is_none(), "{obs:?}");
    assert_eq!(obs.sees_all_sessions, Some(true));
    assert_secret_free(&obs, PG_PASSWORD);

    // An ordinary role logs in too, and the observation says it cannot see
    // other roles' sessions.
    let admin = server.client().await;
    admin
        .batch_execute("CREATE ROLE plain LOGIN PASSWORD 'plain-Pw1'")
        .await
        .unwrap();
    let obs = pg(server.url_as("plain", "plain-Pw1", "postgres")).await;
    assert!(
        obs.failure.is_none() && obs.stats_error.is_none(),
        "{obs:?}"
    );
    assert_eq!(obs.sees_all_sessions, Some(false));
    assert_secret_free(&obs, "plain-Pw1");
}

#[tokio::test]
async fn postgres_wrong_password_is_an_authentication_failure_from_a_live_server() {
    let server = Postgres::start();
    let obs = pg(server.url_as(PG_USER, "wrong-Hunter3", "postgres")).await;
    assert!(obs.server_answered && !obs.logged_in, "{obs:?}");
    assert_eq!(obs.sqlstate.as_deref(), Some("28P01"));
    let f = obs.failure.as_ref().unwrap();
    assert_eq!(f.kind, FailureKind::AuthenticationFailed, "{f:?}");
    assert!(f.detail.contains("password authentication failed"), "{f:?}");
    assert!(obs.login.is_some() && obs.select_one.is_none());
    assert_secret_free(&obs, "wrong-Hunter3");
}

#[tokio::test]
async fn postgres_without_credentials_still_proves_the_server_answers() {
    let server = Postgres::start();
    let url = url::Url::parse(&format!("postgres://127.0.0.1:{}/", server.port)).unwrap();
    let obs = pg(url).await;
    assert!(obs.server_answered && !obs.logged_in, "{obs:?}");
    assert_eq!(obs.user.as_deref(), Some(postgres::ANONYMOUS_USER));
    assert_eq!(
        obs.failure.as_ref().map(|f| f.kind),
        Some(FailureKind::AuthenticationFailed),
        "{obs:?}"
    );
    assert_eq!(obs.sqlstate.as_deref(), Some("28P01"));
}

#[tokio::test]
async fn postgres_refusals_are_told_apart_missing_database_and_role_connection_limit() {
    let server = Postgres::start();
    let admin = server.client().await;
    admin
        .batch_execute("CREATE ROLE capped LOGIN PASSWORD 'capped-Pw1' CONNECTION LIMIT 0")
        .await
        .unwrap();

    let obs = pg(server.url_as(PG_USER, PG_PASSWORD, "no_such_db")).await;
    assert!(obs.server_answered && !obs.logged_in, "{obs:?}");
    assert_eq!(obs.sqlstate.as_deref(), Some("3D000"));
    assert_eq!(
        kind_and_phase(obs.failure.as_ref()).0,
        FailureKind::NotFound,
        "{obs:?}"
    );

    // "too many connections for role": the same SQLSTATE as the server's
    // "too many clients already".
    let obs = pg(server.url_as("capped", "capped-Pw1", "postgres")).await;
    assert_eq!(obs.sqlstate.as_deref(), Some("53300"), "{obs:?}");
    assert_eq!(
        kind_and_phase(obs.failure.as_ref()).0,
        FailureKind::Unavailable
    );
    assert!(obs.server_answered);
    assert_secret_free(&obs, "capped-Pw1");
}

#[tokio::test]
async fn postgres_starting_up_is_unavailable() {
    // The ErrorResponse PostgreSQL sends while it recovers or starts.
    let addr = support::reply_server(
        b"E\x00\x00\x00>SFATAL\x00VFATAL\x00C57P03\x00Mthe database system is starting up\x00\x00",
    )
    .await;
    let obs = pg(pg_url(addr)).await;
    assert!(obs.server_answered, "{obs:?}");
    assert_eq!(obs.sqlstate.as_deref(), Some("57P03"));
    let f = obs.failure.as_ref().unwrap();
    assert_eq!(f.kind, FailureKind::Unavailable, "{f:?}");
    assert!(f.detail.contains("starting up"), "{f:?}");
}

#[tokio::test]
async fn postgres_where_nothing_listens_is_refused() {
    let addr = support::refused_addr();
    let obs = pg(pg_url(addr)).await;
    assert_eq!(
        kind_and_phase(obs.failure.as_ref()),
        (FailureKind::Refused, Phase::Connect)
    );
    assert!(!obs.server_answered);
    assert_secret_free(&obs, PG_PASSWORD);
}

#[tokio::test]
async fn postgres_on_an_http_port_is_an_invalid_response() {
    let addr = support::eager_http_server(HTTP_400).await;
    let obs = pg(pg_url(addr)).await;
    assert!(!obs.server_answered, "{obs:?}");
    let f = obs.failure.as_ref().unwrap();
    assert_eq!(f.kind, FailureKind::InvalidResponse, "{f:?}");
    assert!(f.detail.contains("HTTP"), "{f:?}");
}

#[tokio::test]
async fn postgres_silent_server_times_out_within_the_budget() {
    let addr = support::silent_server().await;
    let spec = PostgresSpec::new(pg_url(addr), Duration::from_millis(400));
    let start = Instant::now();
    let obs = postgres::run(&spec, &ProbeContext::default()).await;
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        kind_and_phase(obs.failure.as_ref()),
        (FailureKind::Timeout, Phase::FirstByte)
    );
    assert!(!obs.server_answered && obs.connect.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sees_a_session_waiting_on_a_lock_and_who_holds_it() {
    let server = Postgres::start();
    let admin = server.client().await;
    admin
        .batch_execute("CREATE TABLE t (id int); INSERT INTO t VALUES (1)")
        .await
        .unwrap();
    let holder = server.client().await;
    let holder_pid = pid(&holder).await;
    holder
        .batch_execute("BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let waiter = server.client().await;
    let waiter_pid = pid(&waiter).await;
    let waiting = tokio::spawn(async move { waiter.simple_query("SELECT * FROM t").await });

    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let row = admin
            .query_one(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1",
                &[&waiter_pid],
            )
            .await
            .unwrap();
        if row.get::<_, Option<String>>(0).as_deref() == Some("Lock") {
            break;
        }
        assert!(
            Instant::now() < until,
            "the waiter never waited on the lock"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Past the long-running threshold below.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let spec = PostgresSpec {
        long_running: Duration::from_millis(100),
        ..PostgresSpec::new(server.url(), TIMEOUT)
    };
    let obs = postgres::run(&spec, &ProbeContext::default()).await;
    assert!(
        obs.failure.is_none() && obs.stats_error.is_none(),
        "{obs:?}"
    );
    assert_eq!(obs.lock_waiting_count, Some(1), "{obs:?}");
    assert!(obs.long_running_count.unwrap() >= 1, "{obs:?}");

    let waiting_session = obs
        .lock_waiting
        .iter()
        .find(|s| s.pid == waiter_pid)
        .unwrap_or_else(|| panic!("no lock-waiting session {waiter_pid}: {obs:?}"));
    assert_eq!(waiting_session.blocked_by, vec![holder_pid]);
    assert_eq!(waiting_session.wait_event_type.as_deref(), Some("Lock"));
    assert_eq!(waiting_session.wait_event.as_deref(), Some("relation"));
    assert_eq!(waiting_session.state.as_deref(), Some("active"));
    assert_eq!(waiting_session.query.as_deref(), Some("SELECT * FROM t"));
    assert!(
        waiting_session.query_duration.unwrap().0 >= 100.0,
        "{waiting_session:?}"
    );
    assert!(
        obs.long_running.iter().any(|s| s.pid == waiter_pid),
        "the waiting query also runs long: {obs:?}"
    );
    let blocker = obs
        .blocking
        .iter()
        .find(|s| s.pid == holder_pid)
        .unwrap_or_else(|| panic!("no blocking session {holder_pid}: {obs:?}"));
    assert_eq!(blocker.state.as_deref(), Some("idle in transaction"));
    assert!(
        blocker.transaction_duration.unwrap().0 >= 300.0,
        "{blocker:?}"
    );
    // The probe's own session is never listed.
    assert!(
        obs.long_running
            .iter()
            .chain(&obs.lock_waiting)
            .chain(&obs.blocking)
            .all(|s| s.application_name.as_deref() != Some("why5xx")),
        "{obs:?}"
    );
    assert_secret_free(&obs, PG_PASSWORD);

    holder.batch_execute("COMMIT").await.unwrap();
    let rows = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(!rows.is_empty());
}

#[tokio::test]
async fn postgres_query_texts_are_truncated_and_redacted() {
    let server = Postgres::start();
    let holder = server.client().await;
    holder
        .batch_execute("CREATE TABLE t (id int)")
        .await
        .unwrap();
    holder
        .batch_execute("BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let waiter = server.client().await;
    let long_tail = "x".repeat(300);
    let query = format!("SELECT * FROM t WHERE 'password=Hunter9' <> '{long_tail}'");
    let waiting = tokio::spawn(async move { waiter.simple_query(&query).await });
    let until = Instant::now() + Duration::from_secs(10);
    let obs = loop {
        let obs = pg(server.url()).await;
        if !obs.lock_waiting.is_empty() {
            break obs;
        }
        assert!(Instant::now() < until, "no lock-waiting session: {obs:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let text = obs.lock_waiting[0].query.as_deref().unwrap();
    assert!(!text.contains("Hunter9"), "{text}");
    assert!(
        text.chars().count() <= postgres::QUERY_EXCERPT + 10,
        "{text}"
    );
    holder.batch_execute("COMMIT").await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(5), waiting).await;
}

// ------------------------------------------------------------------- redis

#[tokio::test]
async fn redis_ping_and_info() {
    let server = Redis::start(&[]);
    let obs = redis_probe(server.url("")).await;
    assert!(obs.failure.is_none(), "{obs:?}");
    assert!(obs.server_answered && obs.ping.is_some() && obs.connect.is_some());
    assert!(obs.auth.is_none());
    assert!(
        obs.redis_version
            .as_deref()
            .unwrap()
            .starts_with(|c: char| c.is_ascii_digit()),
        "{obs:?}"
    );
    assert_eq!(obs.role.as_deref(), Some("master"));
    assert!(obs.connected_clients.unwrap() >= 1, "{obs:?}");
    assert!(obs.maxclients.unwrap() >= 1, "{obs:?}");
    assert_eq!(obs.blocked_clients, Some(0));
    assert_eq!(obs.rejected_connections, Some(0));
    assert!(obs.used_memory_bytes.unwrap() > 0, "{obs:?}");
    assert_eq!(obs.maxmemory_bytes, Some(0));
    assert_eq!(obs.maxmemory_policy.as_deref(), Some("noeviction"));
    assert_eq!(obs.evicted_keys, Some(0));
    assert_eq!(obs.loading, Some(false));
    assert_eq!(obs.rdb_last_bgsave_status.as_deref(), Some("ok"));
    assert_eq!(obs.writes_refused, Some(false));
    assert!(obs.info_error.is_none(), "{obs:?}");
    assert_secret_free(&obs, REDIS_PASSWORD);
}

#[tokio::test]
async fn redis_with_a_password_authenticates_and_rejects_wrong_or_missing_ones() {
    let server = Redis::start(&["--requirepass", REDIS_PASSWORD]);

    let obs = redis_probe(server.url(&format!(":{REDIS_PASSWORD}@"))).await;
    assert!(obs.failure.is_none(), "{obs:?}");
    assert!(obs.auth.is_some() && obs.ping.is_some() && obs.redis_version.is_some());
    assert_secret_free(&obs, REDIS_PASSWORD);

    let obs = redis_probe(server.url(":wrong-Hunter3@")).await;
    assert!(obs.server_answered, "{obs:?}");
    assert_eq!(obs.error_code.as_deref(), Some("WRONGPASS"));
    assert_eq!(
        kind_and_phase(obs.failure.as_ref()).0,
        FailureKind::AuthenticationFailed
    );
    assert!(obs.ping.is_none());
    assert_secret_free(&obs, "wrong-Hunter3");

    let obs = redis_probe(server.url("")).await;
    assert!(obs.server_answered, "{obs:?}");
    assert_eq!(obs.error_code.as_deref(), Some("NOAUTH"));
    assert_eq!(
        kind_and_phase(obs.failure.as_ref()).0,
        FailureKind::AuthenticationFailed
    );
}

#[tokio::test]
async fn redis_at_maxclients_is_unavailable() {
    let server = Redis::start(&["--maxclients", "1"]);
    let _held = server.hold_client();
    let obs = redis_probe(server.url("")).await;
    assert!(obs.server_answered, "{obs:?}");
    let f = obs.failure.as_ref().unwrap();
    assert_eq!(f.kind, FailureKind::Unavailable, "{f:?}");
    assert!(f.detail.contains("max number of clients"), "{f:?}");
    assert_eq!(obs.error_code.as_deref(), Some("ERR"));
}

#[tokio::test]
async fn redis_loading_is_unavailable() {
    let addr = support::reply_server(b"-LOADING Redis is loading the dataset in memory\r\n").await;
    let obs = redis_probe(redis_url(addr)).await;
    assert!(obs.server_answered, "{obs:?}");
    assert_eq!(obs.error_code.as_deref(), Some("LOADING"));
    assert_eq!(
        kind_and_phase(obs.failure.as_ref()).0,
        FailureKind::Unavailable
    );
}

#[tokio::test]
async fn redis_where_nothing_listens_is_refused() {
    let obs = redis_probe(redis_url(support::refused_addr())).await;
    assert_eq!(
        kind_and_phase(obs.failure.as_ref()),
        (FailureKind::Refused, Phase::Connect)
    );
    assert!(!obs.server_answered);
    assert_secret_free(&obs, REDIS_PASSWORD);
}

#[tokio::test]
async fn redis_on_an_http_port_is_an_invalid_response() {
    let addr = support::eager_http_server(HTTP_400).await;
    let obs = redis_probe(redis_url(addr)).await;
    let f = obs.failure.as_ref().unwrap();
    assert_eq!(f.kind, FailureKind::InvalidResponse, "{f:?}");
    assert!(f.detail.contains("HTTP"), "{f:?}");
    assert!(!obs.server_answered);
}

#[tokio::test]
async fn redis_silent_server_times_out_within_the_budget() {
    let addr = support::silent_server().await;
    let spec = RedisSpec::new(redis_url(addr), Duration::from_millis(400));
    let start = Instant::now();
    let obs = redis::run(&spec, &ProbeContext::default()).await;
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        kind_and_phase(obs.failure.as_ref()),
        (FailureKind::Timeout, Phase::FirstByte)
    );
}

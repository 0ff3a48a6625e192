//! The HAProxy probes against a real HAProxy: `show stat` over its stats
//! socket while its checks meet a server that refuses, one that answers and
//! one that never answers; its log (through a syslog receiver, as rsyslog
//! writes it) after requests that fail; and the stats socket's failures — a
//! socket that never answers, one this user may not open.

use std::path::Path;
use std::time::{Duration, Instant};

use why5xx_probes::haproxy_stats::{self, HaproxyStatsSpec, ServerState};
use why5xx_probes::logs::proxy_error::ProxyErrorKind;
use why5xx_probes::logs::{ProxyErrorLogSpec, run_proxy_error_log};
use why5xx_probes::{FailureKind, ProbeContext};

use crate::support::{self, Haproxy};

async fn stats(socket: &Path, timeout: Duration) -> haproxy_stats::HaproxyStatsObservation {
    haproxy_stats::run(
        &HaproxyStatsSpec::new(socket.to_path_buf(), timeout),
        &ProbeContext::default(),
    )
    .await
}

#[tokio::test]
async fn show_stat_reports_each_server_as_its_check_sees_it() {
    let answers = support::http_server(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
    let silent = support::silent_server().await;
    let refused = support::refused_addr();
    let h = Haproxy::start(&format!(
        "frontend fe\n    bind 127.0.0.1:{{port}}\n    default_backend app\n\n\
         backend app\n    option httpchk GET /\n    timeout check 300ms\n    default-server inter 200ms fall 1 rise 1\n    \
         server refused {refused} check\n    server answers {answers} check\n    server silent {silent} check\n"
    ));
    // Wait for the checks to settle.
    let until = Instant::now() + Duration::from_secs(10);
    let obs = loop {
        let obs = stats(&h.stats_socket(), Duration::from_secs(2)).await;
        let settled = obs.servers.len() == 3
            && obs
                .servers
                .iter()
                .all(|s| s.check_status.as_deref().is_some_and(|c| c != "INI"))
            && obs
                .servers
                .iter()
                .any(|s| s.server == "silent" && s.state == ServerState::Down);
        if settled || Instant::now() > until {
            break obs;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(obs.failure, None, "{obs:?}");
    let by = |name: &str| obs.servers.iter().find(|s| s.server == name).unwrap();
    let r = by("refused");
    assert_eq!(r.state, ServerState::Down, "{r:?}");
    assert_eq!(r.check_status.as_deref(), Some("L4CON"));
    assert_eq!(r.check_words(), "L4CON Connection refused");
    assert_eq!(r.addr.as_deref(), Some(refused.to_string().as_str()));
    assert!(r.lastchg_secs.is_some());
    let a = by("answers");
    assert_eq!(a.state, ServerState::Up, "{a:?}");
    assert_eq!(a.check_status.as_deref(), Some("L7OK"));
    assert_eq!(a.check_code, Some(200));
    let s = by("silent");
    assert_eq!(s.state, ServerState::Down, "{s:?}");
    assert_eq!(s.check_status.as_deref(), Some("L7TOUT"));
    assert_eq!(obs.backends[0].name, "app");
}

#[tokio::test]
async fn haproxy_log_lines_are_classified_per_server_address() {
    let silent = support::silent_server().await;
    let refused = support::refused_addr();
    let h = Haproxy::start(&format!(
        "frontend fe\n    bind 127.0.0.1:{{port}}\n    use_backend slow if {{ path_beg /slow }}\n    default_backend app\n\n\
         backend app\n    default-server inter 200ms fall 1 rise 1\n    server app1 {refused} check\n\n\
         backend slow\n    timeout server 300ms\n    server s1 {silent}\n"
    ));
    h.wait_for_log("is DOWN");
    let url = h.url("/");
    let slow = h.url("/slow");
    let codes = tokio::task::spawn_blocking(move || {
        (support::get_status(&url), support::get_status(&slow))
    })
    .await
    .unwrap();
    assert_eq!(
        codes,
        (503, 504),
        "behind HAProxy: no server → 503, timeout server → 504"
    );
    h.wait_for_log(" sH-");
    let spec = ProxyErrorLogSpec {
        path: h.log(),
        servers: [
            ("app/app1".to_string(), refused.to_string()),
            ("slow/s1".to_string(), silent.to_string()),
        ]
        .into(),
        ..ProxyErrorLogSpec::default()
    };
    let obs = run_proxy_error_log(&spec, &ProbeContext::default()).await;
    assert_eq!(obs.failure, None);
    let down = obs
        .kind(ProxyErrorKind::ServerDown)
        .unwrap_or_else(|| panic!("{obs:#?}\n{}", h.log_text()));
    assert_eq!(
        down.by_upstream.get(&refused.to_string()),
        Some(&1),
        "{down:?}"
    );
    assert_eq!(
        down.last.reason.as_deref(),
        Some("Layer4 connection problem: Connection refused")
    );
    let nosrv = obs.kind(ProxyErrorKind::NoLiveUpstreams).unwrap();
    assert!(nosrv.by_upstream.contains_key("backend app"), "{nosrv:?}");
    let timed_out = obs.kind(ProxyErrorKind::UpstreamTimedOut).unwrap();
    assert_eq!(timed_out.by_upstream.get(&silent.to_string()), Some(&1));
    assert_eq!(timed_out.last.status, Some(504));
    assert!(obs.lines_in_window >= 3, "{obs:?}");
}

#[tokio::test]
async fn a_socket_that_never_answers_is_a_timeout_within_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("admin.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let started = Instant::now();
    let obs = stats(&path, Duration::from_millis(300)).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(obs.failure.unwrap().kind, FailureKind::Timeout);
}

#[tokio::test]
async fn a_missing_socket_is_not_found_and_garbage_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let obs = stats(&dir.path().join("none.sock"), Duration::from_secs(1)).await;
    assert_eq!(obs.failure.unwrap().kind, FailureKind::NotFound);
    let path = dir.path().join("admin.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = listener.accept().await {
            let mut cmd = [0u8; 10];
            let _ = s.read_exact(&mut cmd).await;
            let _ = s
                .write_all(b"Unknown command, but the level is 'user'.\n")
                .await;
        }
    });
    let obs = stats(&path, Duration::from_secs(1)).await;
    assert_eq!(obs.failure.unwrap().kind, FailureKind::InvalidResponse);
}

/// Set by [`a_socket_this_user_may_not_open_is_permission_denied`] when it
/// re-runs this test binary as `nobody`: the socket to fail on.
const FORBIDDEN_ENV: &str = "WHY5XX_TEST_FORBIDDEN_SOCKET";

/// The half of the permission test that runs as `nobody`; a no-op alone.
#[tokio::test]
async fn forbidden_socket_child() {
    if let Some(path) = std::env::var_os(FORBIDDEN_ENV) {
        let obs = stats(Path::new(&path), Duration::from_secs(1)).await;
        let f = obs.failure.unwrap();
        assert_eq!(f.kind, FailureKind::PermissionDenied, "{f:?}");
        assert!(f.detail.contains("permission denied"), "{f:?}");
    }
}

#[test]
fn a_socket_this_user_may_not_open_is_permission_denied() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("admin.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    if !rustix::process::geteuid().is_root() {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "haproxy::forbidden_socket_child", "--nocapture"])
        .env(FORBIDDEN_ENV, &path);
    if rustix::process::geteuid().is_root() {
        cmd.uid(65534).gid(65534);
    }
    let out = cmd.output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("1 passed"),
        "the child test did not run: {text}"
    );
}

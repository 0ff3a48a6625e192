//! Whole runs of the binary against real servers started by the test.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support;

/// Run why5xx with `args` (blocking, off the async runtime) and return the
/// exit code, stdout and how long it took.
pub(crate) async fn run(args: Vec<String>) -> (i32, String, Duration) {
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("why5xx"))
            .args(&args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !stderr.is_empty() {
            eprintln!("why5xx stderr: {stderr}");
        }
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
            started.elapsed(),
        )
    })
    .await
    .unwrap()
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"))
}

fn write_config(dir: &tempfile::TempDir, text: &str) -> String {
    let path = dir.path().join("why5xx.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Run why5xx on the config `text` with `--format json`: exit code, stdout,
/// the parsed report and the wall time.
async fn diagnose_json(dir: &tempfile::TempDir, text: &str) -> (i32, String, Value, Duration) {
    let path = write_config(dir, text);
    let (code, out, took) = run(vec![
        "--config".into(),
        path,
        "--format".into(),
        "json".into(),
    ])
    .await;
    let r = json(&out);
    (code, out, r, took)
}

#[tokio::test(flavor = "multi_thread")]
async fn zero_config_run_reports_this_host() {
    let (code, out, _) = run(vec!["--format".into(), "json".into()]).await;
    assert!(
        code == 0 || code == 1,
        "a plain machine is ok or warning, got {code}:\n{out}"
    );
    let r = json(&out);
    assert_eq!(r["schema_version"], 1);
    assert_eq!(r["tool"]["name"], "why5xx");
    let ids: Vec<&str> = r["probes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"host:system"), "{ids:?}");
    assert!(ids.contains(&"host:disk:/"), "{ids:?}");
    assert!(ids.contains(&"host:listeners"), "{ids:?}");
    for p in r["probes"].as_array().unwrap() {
        for key in [
            "id",
            "kind",
            "target",
            "status",
            "duration_ms",
            "summary",
            "observations",
            "error",
        ] {
            assert!(p.get(key).is_some(), "probe lacks {key}: {p}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn text_report_leads_with_the_verdict() {
    // Without discovery: another test's broken nginx on this host must not
    // decide the exit code (zero-config discovery has its own tests).
    let (code, out, _) = run(vec!["--no-discover".into()]).await;
    assert!(code == 0 || code == 1, "{out}");
    let first = out.lines().next().unwrap();
    assert!(first.starts_with("why5xx 0.1.0 on "), "{first}");
    assert!(out.contains("host:system"), "{out}");
    assert!(
        !out.contains('\x1b'),
        "no colour when NO_COLOR is set or stdout is a pipe"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn five_hanging_servers_end_by_the_deadline_as_unknown() {
    let mut cfg = String::from(
        "[agent]\ndeadline = \"2s\"\ntimeout = \"30s\"\ndiscover = false\n[host]\ndisks = [\"/\"]\nload_warn = 1000.0\n",
    );
    for i in 0..5 {
        let addr: SocketAddr = support::silent_server().await;
        let _ = write!(
            cfg,
            "[[endpoint]]\nname = \"hang{i}\"\nurl = \"http://{addr}/\"\n"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let (code, _, r, took) = diagnose_json(&dir, &cfg).await;
    let hanging: Vec<&Value> = r["probes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["id"].as_str().unwrap().starts_with("endpoint:hang"))
        .collect();
    assert_eq!(hanging.len(), 5);
    for p in hanging {
        assert_eq!(p["status"], "unknown", "{p}");
        assert_eq!(p["error"], "timeout", "{p}");
    }
    // Behaviour, not performance: the deadline ends the run (slack for a noisy machine).
    assert!(took < Duration::from_secs(8), "took {took:?}");
    assert_eq!(code, 0, "unknown probes alone are not findings");
    assert_eq!(r["status"], "unknown", "the verdict is incomplete");
}

#[tokio::test(flavor = "multi_thread")]
async fn stopped_upstream_is_named_not_running() {
    let addr = support::refused_addr();
    let dir = tempfile::tempdir().unwrap();
    let (code, out, r, _) = diagnose_json(
        &dir,
        &format!(
            "[agent]\ndiscover = false\n[host]\ndisks = [\"/\"]\nload_warn = 1000.0\n[[upstream]]\nname = \"app\"\nurl = \"http://{addr}/health\"\nprocess = \"why5xx-test-no-such-process\"\n"
        ),
    )
    .await;
    assert_eq!(code, 2, "{out}");
    assert_eq!(r["status"], "critical");
    let first = &r["findings"][0];
    assert_eq!(first["cause"], "upstream-not-running", "{first}");
    assert_eq!(first["status_codes"][0], 502);
    let evidence: Vec<&str> = first["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["probe"].as_str().unwrap())
        .collect();
    assert!(
        evidence.contains(&"upstream:app")
            && evidence.contains(&format!("port:{}", addr.port()).as_str()),
        "{evidence:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_certificate_on_an_endpoint_is_named() {
    support::init();
    let ca = support::TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let ca_path = ca.write_pem(dir.path());
    let addr = support::tls_server(
        ca.leaf(&["shop.test"], -3),
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    )
    .await;
    let (code, out, r, _) = diagnose_json(
        &dir,
        &format!(
            "[agent]\ndiscover = false\n[host]\ndisks = [\"/\"]\nload_warn = 1000.0\n[[endpoint]]\nname = \"shop\"\nurl = \"https://shop.test:{}/\"\nresolve = \"127.0.0.1\"\nca_file = \"{}\"\n",
            addr.port(),
            ca_path.display()
        ),
    )
    .await;
    assert_eq!(code, 2, "{out}");
    assert_eq!(
        r["findings"][0]["cause"], "tls-certificate-expired",
        "{}",
        r["findings"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn output_file_is_written_atomically_and_secrets_stay_out() {
    let addr = support::http_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        &dir,
        &format!(
            "[agent]\ndiscover = false\n[host]\ndisks = [\"/\"]\nload_warn = 1000.0\n[[endpoint]]\nname = \"api\"\nurl = \"http://user:hunter2@{addr}/x?token=sekrit&page=1\"\nheaders = {{ Authorization = \"Bearer s3cr3t-header\" }}\n"
        ),
    );
    let report = dir.path().join("report.json");
    let (code, out, _) = run(vec![
        "--config".into(),
        path,
        "--format".into(),
        "json".into(),
        "--output".into(),
        report.display().to_string(),
    ])
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.is_empty(), "the report goes to the file, not stdout");
    let text = std::fs::read_to_string(&report).unwrap();
    let r = json(&text);
    assert_eq!(r["probes"][0]["status"], "ok", "{}", r["probes"][0]);
    for secret in ["hunter2", "sekrit", "s3cr3t-header"] {
        assert!(!text.contains(secret), "{secret} leaked into the report");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        2,
        "only the config and the report: {leftovers:?}"
    );
}

/// On a box running nginx in front of an application, a run with no
/// arguments finds the proxy, probes its upstream directly and reads its
/// error log.
#[tokio::test(flavor = "multi_thread")]
async fn zero_config_discovers_nginx_and_its_upstream() {
    let app = support::http_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    )
    .await;
    let dead = support::refused_addr();
    let nginx = support::Nginx::start(&format!(
        "upstream app {{ server {app}; }}\n\
         server {{ listen 127.0.0.1:{{port}}; location / {{ proxy_pass http://app; }} location /old/ {{ proxy_pass http://{dead}; }} }}"
    ));
    // Traffic to the dead location so the error log has something to say.
    let url = nginx.url("/old/x");
    tokio::task::spawn_blocking(move || support::get_status(&url))
        .await
        .unwrap();

    let Some(r) = discovered_run("proxy:nginx", nginx.pid(), app, dead, &nginx.error_log()).await
    else {
        return;
    };
    let up = r["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == format!("upstream:{app}"))
        .unwrap();
    assert_eq!(up["target"], format!("http://{app}/"));
}

/// Run with no arguments and check that discovery found the proxy `pid`
/// (probe `proxy_id`), probed `app` (healthy) and `dead` (refused)
/// directly, read `error_log`, and named the dead upstream. `None` when
/// another proxy on this host was found instead (only the shape checked).
async fn discovered_run(
    proxy_id: &str,
    pid: u32,
    app: SocketAddr,
    dead: SocketAddr,
    error_log: &std::path::Path,
) -> Option<Value> {
    let (_, out, _) = run(vec!["--format".into(), "json".into()]).await;
    let r = json(&out);
    let probes = r["probes"].as_array().unwrap();
    let Some(proxy) = probes.iter().find(|p| p["id"] == proxy_id) else {
        // Another kind of proxy runs here (a system nginx) and discovery
        // prefers it.
        assert!(
            probes
                .iter()
                .any(|p| p["id"].as_str().is_some_and(|i| i.starts_with("proxy:"))),
            "{out}"
        );
        return None;
    };
    let obs = &proxy["observations"];
    if obs["masters_running"] != 1 {
        // Another master of this kind runs on this host (a system one):
        // discovery picks the oldest, which is not ours.
        assert!(obs["master"]["pid"].is_u64(), "{proxy}");
        return None;
    }
    assert_eq!(obs["master"]["pid"], pid, "{proxy}");
    let get = |id: String| {
        probes
            .iter()
            .find(|p| p["id"] == id)
            .unwrap_or_else(|| panic!("no {id} probe: {out}"))
    };
    let up = get(format!("upstream:{app}"));
    assert_eq!(up["observations"]["status"], 200, "{up}");
    let down = get(format!("upstream:{dead}"));
    assert_eq!(down["observations"]["failure"]["kind"], "refused", "{down}");
    let log = get("log:proxy".to_string());
    assert_eq!(log["target"], error_log.display().to_string());
    let kinds: Vec<&str> = log["observations"]["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"connect_refused"), "{log}");
    // The refused upstream is named as a cause.
    let causes: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["cause"].as_str().unwrap())
        .collect();
    assert!(causes.contains(&"upstream-not-running"), "{causes:?}");
    Some(r)
}

/// On a box running Apache in front of an application, a run with no
/// arguments finds Apache, probes its backends directly and reads its
/// error log; the refused backend (a 503 from Apache) is named.
#[tokio::test(flavor = "multi_thread")]
async fn zero_config_discovers_apache_and_its_upstream() {
    let app = support::http_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    )
    .await;
    let dead = support::refused_addr();
    let apache = support::Apache::start(&format!(
        "ProxyPass /old/ http://{dead}/\nProxyPass / http://{app}/\n"
    ));
    let url = apache.url("/old/x");
    let status = tokio::task::spawn_blocking(move || support::get_status(&url))
        .await
        .unwrap();
    assert_eq!(status, 503, "Apache answers a refused backend with 503");

    discovered_run("proxy:apache", apache.pid(), app, dead, &apache.error_log()).await;
}

/// nginx's own access log, in its own `log_format`, read back as the
/// report's `traffic`: the 5xx counted, when they started, which path, which
/// upstream; also in the text report (a sparkline) and in Prometheus.
#[tokio::test(flavor = "multi_thread")]
async fn nginx_access_log_becomes_traffic() {
    let refused = support::refused_addr();
    let nginx = support::Nginx::start(&format!(
        "log_format timed '$remote_addr [$time_local] \"$request\" $status $body_bytes_sent $request_time $upstream_addr';\n\
         server {{ listen 127.0.0.1:{{port}}; access_log {{prefix}}/logs/timed.log timed;\n\
           location / {{ return 200 ok; }}\n\
           location /api/ {{ proxy_pass http://{refused}; }} }}"
    ));
    for path in [
        "/",
        "/api/orders/7",
        "/api/orders/8?x=1",
        "/",
        "/api/orders/9",
    ] {
        support::get_status(&nginx.url(path));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[agent]\ndiscover = false\nsince = \"10m\"\n[host]\ndisks = [\"/\"]\n[proxy]\nkind = \"nginx\"\nconfig = \"{}\"\n",
        nginx.conf().display()
    );
    let (_, out, r, _) = diagnose_json(&dir, &config).await;
    let t = &r["traffic"];
    assert_eq!(t["probe"], "log:access", "{out}");
    assert_eq!(t["requests"], 5, "{t}");
    assert_eq!(t["errors_5xx"], 3, "{t}");
    assert_eq!(t["by_status"]["502"], 3, "{t}");
    assert_eq!(t["top_paths"][0]["path"], "/api/orders/:id", "{t}");
    assert_eq!(t["by_upstream"][0]["address"], refused.to_string(), "{t}");
    assert!(t["first_5xx_at"].as_str().is_some(), "{t}");
    assert!(t["since"].as_str().is_some_and(|s| s.ends_with('Z')), "{t}");
    crate::formats::schema_accepts_report(&r);

    let path = write_config(&dir, &config);
    let (_, text, _) = run(vec!["--config".into(), path.clone()]).await;
    assert!(text.contains("Traffic (log:access, last 10 min)"), "{text}");
    assert!(text.contains("5xx/min |"), "{text}");
    let (_, prom, _) = run(vec![
        "--config".into(),
        path,
        "--format".into(),
        "prometheus".into(),
    ])
    .await;
    assert!(
        prom.contains("why5xx_access_requests{probe=\"log:access\",status_class=\"5xx\"} 3"),
        "{prom}"
    );
    crate::formats::promtool_accepts(&prom);
}

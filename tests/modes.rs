//! The other ways why5xx runs: the Prometheus exporter (`serve`), `init`,
//! `--baseline`, `completions` and `man` — each against the real binary and
//! real servers started by the test.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::support;

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("why5xx")
}

/// Run why5xx to the end: exit code, stdout, stderr.
fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin())
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// [`run`] off the async threads.
async fn run_async(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&args)
    })
    .await
    .unwrap()
}

/// An HTTP server on 127.0.0.1 that counts the requests it answers (not
/// bare connections: the port probe only connects), waiting `delay` before
/// each answer. Aborting the handle closes the listener.
async fn counting_server(
    delay: Duration,
) -> (SocketAddr, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let handle = tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else {
                return;
            };
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                if support::read_request_head(&mut tcp).await.is_empty() {
                    return;
                }
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                let _ = tcp
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    )
                    .await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    (addr, hits, handle)
}

/// A config probing one upstream and nothing discovered.
fn upstream_config(dir: &Path, upstream: SocketAddr) -> PathBuf {
    let path = dir.join("why5xx.toml");
    std::fs::write(
        &path,
        format!(
            "[agent]\ndiscover = false\ndeadline = \"5s\"\n[host]\ndisks = [\"/\"]\nload_warn = 1000.0\n\
             [[upstream]]\nname = \"app\"\nurl = \"http://{upstream}/health\"\n"
        ),
    )
    .unwrap();
    path
}

/// One HTTP/1.1 request on a fresh connection: status, head, body.
fn request(addr: SocketAddr, method: &str, target: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

/// A running `why5xx serve`, killed on drop.
struct Exporter {
    child: Child,
    addr: SocketAddr,
}

impl Exporter {
    fn start(config: &Path, extra: &[&str]) -> Self {
        let addr = SocketAddr::from(([127, 0, 0, 1], support::free_port()));
        let child = Command::new(bin())
            .args(["serve", "--listen", &addr.to_string(), "--config"])
            .arg(config)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut e = Self { child, addr };
        let until = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).is_err() {
            assert!(e.child.try_wait().unwrap().is_none(), "exporter exited");
            assert!(Instant::now() < until, "exporter did not listen on {addr}");
            std::thread::sleep(Duration::from_millis(20));
        }
        e
    }

    fn get(&self, target: &str) -> (u16, String, String) {
        request(self.addr, "GET", target)
    }

    fn signal(&self, sig: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(i32::try_from(self.child.id()).unwrap()).unwrap();
        rustix::process::kill_process(pid, sig).unwrap();
    }

    /// The exit code, waiting at most `limit`.
    fn wait(&mut self, limit: Duration) -> Option<i32> {
        let until = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            if Instant::now() > until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run promtool (scripts/test installs it) with `stdin`; it must succeed.
fn promtool(args: &[&str], stdin: &str) {
    let mut child = Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool must be installed (scripts/test installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool {args:?}: {}{}\n{stdin}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The value of an unlabelled sample in a Prometheus exposition.
fn sample(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn exporter_serves_metrics_and_health_and_refuses_everything_else() {
    let (upstream, hits, _server) = counting_server(Duration::ZERO).await;
    // Where a caller would like the exporter to go: it must never connect.
    let trap = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let trap_addr = trap.local_addr().unwrap();
    let trapped = Arc::new(AtomicUsize::new(0));
    let t = Arc::clone(&trapped);
    tokio::spawn(async move {
        while trap.accept().await.is_ok() {
            t.fetch_add(1, Ordering::SeqCst);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let config = upstream_config(dir.path(), upstream);

    tokio::task::spawn_blocking(move || {
        let e = Exporter::start(&config, &["--min-interval", "60s"]);

        let (status, _, body) = e.get("/healthz");
        assert_eq!((status, body.trim()), (200, "ok"));

        let (status, head, body) = e.get("/metrics");
        assert_eq!(status, 200, "{head}\n{body}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: text/plain; version=0.0.4"),
            "{head}"
        );
        assert_eq!(sample(&body, "why5xx_up"), Some(1.0), "{body}");
        assert!(
            body.contains("why5xx_probe_success{probe=\"upstream:app\""),
            "{body}"
        );
        assert_eq!(sample(&body, "why5xx_exporter_runs_total"), Some(1.0));
        promtool(&["check", "metrics"], &body);

        // Younger than --min-interval: the same run, not a new one.
        let (_, _, again) = e.get("/metrics");
        assert_eq!(sample(&again, "why5xx_exporter_runs_total"), Some(1.0));
        assert_eq!(hits.load(Ordering::SeqCst), 1, "one diagnosis, one request");
        let (status, head, body) = request(e.addr, "HEAD", "/metrics");
        assert_eq!(status, 200, "{head}");
        assert!(body.is_empty(), "HEAD has no body: {body}");

        // No caller-chosen target, however it is asked for.
        for target in [
            format!("/metrics?target=http://{trap_addr}/"),
            format!("/metrics?module=http&target={trap_addr}"),
            "/healthz?x=1".to_string(),
        ] {
            let (status, _, body) = e.get(&target);
            assert_eq!(status, 400, "{target}: {body}");
        }
        // Absolute-form request target: the authority is not a target either.
        let (status, _, _) = e.get(&format!("http://{trap_addr}/metrics"));
        assert_eq!(status, 200);
        for target in ["/", "/probe", "/metrics/", "/../metrics"] {
            assert_eq!(e.get(target).0, 404, "{target}");
        }
        for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
            let (status, head, _) = request(e.addr, method, "/metrics");
            assert_eq!(status, 405, "{method}");
            assert!(head.contains("GET, HEAD"), "{head}");
        }
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(
            trapped.load(Ordering::SeqCst),
            0,
            "the exporter probed a caller's target"
        );
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_scrapes_wait_for_one_shared_run() {
    let (upstream, hits, _server) = counting_server(Duration::from_millis(800)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = upstream_config(dir.path(), upstream);
    tokio::task::spawn_blocking(move || {
        let e = Exporter::start(&config, &["--min-interval", "1s"]);
        let addr = e.addr;
        let scrapes: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(move || request(addr, "GET", "/metrics")))
            .collect();
        let bodies: Vec<String> = scrapes
            .into_iter()
            .map(|t| {
                let (status, _, body) = t.join().unwrap();
                assert_eq!(status, 200, "{body}");
                body
            })
            .collect();
        assert!(bodies.iter().all(|b| b == &bodies[0]), "one run for all");
        assert_eq!(
            hits.load(Ordering::SeqCst),
            1,
            "four scrapes, one diagnosis"
        );
        // Older than --min-interval: a new run.
        std::thread::sleep(Duration::from_millis(1100));
        let (_, _, body) = e.get("/metrics");
        assert_eq!(
            sample(&body, "why5xx_exporter_runs_total"),
            Some(2.0),
            "{body}"
        );
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_finishes_the_scrape_in_flight_then_exits_zero() {
    let (upstream, _hits, _server) = counting_server(Duration::from_millis(1500)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = upstream_config(dir.path(), upstream);
    tokio::task::spawn_blocking(move || {
        let mut e = Exporter::start(&config, &[]);
        let addr = e.addr;
        let scrape = std::thread::spawn(move || request(addr, "GET", "/metrics"));
        std::thread::sleep(Duration::from_millis(400));
        e.signal(rustix::process::Signal::TERM);
        let (status, _, body) = scrape.join().unwrap();
        assert_eq!(status, 200, "the scrape in flight is answered: {body}");
        assert_eq!(sample(&body, "why5xx_up"), Some(1.0), "{body}");
        assert_eq!(e.wait(Duration::from_secs(10)), Some(0));
        assert!(TcpStream::connect(addr).is_err(), "no longer listening");

        // SIGINT on an idle exporter: straight out, exit 0.
        let mut e = Exporter::start(&config, &[]);
        e.signal(rustix::process::Signal::INT);
        assert_eq!(e.wait(Duration::from_secs(5)), Some(0));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_or_oversized_request_heads_are_cut_off() {
    let (upstream, hits, _server) = counting_server(Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let config = upstream_config(dir.path(), upstream);
    tokio::task::spawn_blocking(move || {
        let e = Exporter::start(&config, &[]);
        // Slowloris: half a request head, then nothing.
        let mut s = TcpStream::connect(e.addr).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let started = Instant::now();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(12),
            "a slow client held the connection {took:?}"
        );
        assert!(!String::from_utf8_lossy(&buf).contains(" 200 "));

        // A 64 KiB header is refused without a diagnosis.
        let mut s = TcpStream::connect(e.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let big = "a".repeat(64 * 1024);
        let _ = write!(
            s,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n"
        );
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        let text = String::from_utf8_lossy(&buf);
        assert!(!text.contains(" 200 "), "{text}");
        assert_eq!(hits.load(Ordering::SeqCst), 0);
        // And the exporter still serves.
        assert_eq!(e.get("/healthz").0, 200);
    })
    .await
    .unwrap();
}

#[test]
fn serve_bind_error_is_exit_three_with_one_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, _, err) = run(&["serve", "--listen", &addr]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("cannot listen on") && err.contains(&addr),
        "{err}"
    );
    let (code, _, err) = run(&["serve", "--listen", "not-an-address"]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// `/proc/self/comm`: how the socket table names this test process.
fn own_comm() -> String {
    std::fs::read_to_string("/proc/self/comm")
        .unwrap()
        .trim()
        .to_string()
}

/// Write `config` to a file and check it with `why5xx check-config`; the
/// directory (kept while it lives) and the file.
async fn written_and_checked(config: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("why5xx.toml");
    std::fs::write(&path, config).unwrap();
    let (code, checked, err) =
        run_async(vec!["check-config".into(), path.display().to_string()]).await;
    assert_eq!(code, 0, "check-config: {err}\n{config}");
    assert!(checked.contains("OK"), "{checked}");
    (dir, path)
}

/// `why5xx init`'s output, found by discovery when it names `conf`, else
/// with `--proxy-config conf` (another proxy on this box is preferred).
async fn init_naming(conf: &str) -> String {
    let (code, out, err) = run_async(vec!["init".into()]).await;
    assert_eq!(code, 0, "{err}");
    if out.contains(conf) {
        return out;
    }
    let (code, explicit, err) = run_async(vec![
        "init".into(),
        "--proxy-config".into(),
        conf.to_string(),
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    explicit
}

#[tokio::test(flavor = "multi_thread")]
async fn init_behind_nginx_writes_the_upstream_into_a_config_that_checks() {
    let (app, _hits, _server) = counting_server(Duration::ZERO).await;
    let nginx = support::Nginx::start(&format!(
        "upstream app {{ server {app}; }}\n\
         server {{ listen 127.0.0.1:{{port}}; server_name shop.test; location / {{ proxy_pass http://app; }} }}"
    ));
    // Discovery picks the oldest nginx master: ours on a clean box; when
    // another nginx runs here, name ours explicitly.
    let conf = nginx.conf().display().to_string();
    let out = init_naming(&conf).await;
    assert!(out.contains(&format!("config = \"{conf}\"")), "{out}");
    assert!(
        out.contains(&format!("running as pid {}", nginx.pid())),
        "{out}"
    );
    let (_dir, path) = written_and_checked(&out).await;

    assert!(out.contains("kind = \"nginx\""), "{out}");
    assert!(out.contains(&format!("url = \"http://{app}/\"")), "{out}");
    assert!(out.contains("name = \"app\""), "{out}");
    assert!(
        out.contains(&format!("process = \"{}\"", own_comm())),
        "the upstream's port is owned by this test process:\n{out}"
    );
    assert!(out.contains("# url = \"http://shop.test:"), "{out}");
    // The config runs: the upstream is probed and healthy.
    let (code, report, _) = run_async(vec![
        "--config".into(),
        path.display().to_string(),
        "--format".into(),
        "json".into(),
    ])
    .await;
    let r: Value = serde_json::from_str(&report).unwrap();
    let up = r["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "upstream:app")
        .unwrap_or_else(|| panic!("no upstream:app probe: {report}"));
    assert_eq!(up["status"], "ok", "{up}");
    assert_ne!(code, 3, "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn init_behind_apache_writes_the_upstream_into_a_config_that_checks() {
    let (app, _hits, _server) = counting_server(Duration::ZERO).await;
    let apache = support::Apache::start(&format!(
        "<VirtualHost 127.0.0.1:{{port}}>\n  ServerName shop.test\n  ProxyPass / http://{app}/\n</VirtualHost>\n"
    ));
    let conf = apache.conf().display().to_string();
    let out = init_naming(&conf).await;
    assert!(out.contains("kind = \"apache\""), "{out}");
    assert!(out.contains(&format!("config = \"{conf}\"")), "{out}");
    assert!(
        out.contains(&format!("running as pid {}", apache.pid())),
        "{out}"
    );
    assert!(out.contains(&format!("url = \"http://{app}/\"")), "{out}");
    assert!(out.contains("shop.test"), "{out}");
    written_and_checked(&out).await;
}

#[test]
fn init_on_any_box_prints_a_config_that_checks() {
    let (code, out, err) = run(&["init"]);
    assert_eq!(code, 0, "{err}");
    for section in ["[agent]", "[host]", "endpoint]]"] {
        assert!(out.contains(section), "{section}:\n{out}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("init.toml");
    std::fs::write(&path, &out).unwrap();
    let (code, _, err) = run(&["check-config", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}\n{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn baseline_names_what_changed_when_the_upstream_stops() {
    let (upstream, _hits, server) = counting_server(Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let config = upstream_config(dir.path(), upstream).display().to_string();
    let base = dir.path().join("base.json").display().to_string();

    let (code, _, err) = run_async(vec![
        "--config".into(),
        config.clone(),
        "--format".into(),
        "json".into(),
        "--output".into(),
        base.clone(),
    ])
    .await;
    // Healthy first (the host itself may warn: load on a busy machine).
    assert!(code == 0 || code == 1, "{code}: {err}");
    let first: Value = serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    let app = first["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "upstream:app")
        .unwrap();
    assert_eq!(app["status"], "ok", "{app}");
    assert!(
        first.get("changes").is_none(),
        "no baseline, no changes field"
    );

    server.abort();
    let until = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(upstream).is_ok() {
        assert!(Instant::now() < until, "the upstream did not stop");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let (code, out, err) = run_async(vec![
        "--config".into(),
        config.clone(),
        "--format".into(),
        "json".into(),
        "--baseline".into(),
        base.clone(),
    ])
    .await;
    assert_eq!(code, 2, "{err}\n{out}");
    let r: Value = serde_json::from_str(&out).unwrap();
    let c = &r["changes"];
    assert_eq!(c["baseline_started_at"], first["started_at"]);
    assert_eq!(c["baseline_status"], first["status"]);
    let new: Vec<&str> = c["new_findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["cause"].as_str().unwrap())
        .collect();
    assert!(new.contains(&"upstream-not-running"), "{c}");
    let app = c["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["probe"] == "upstream:app")
        .unwrap_or_else(|| panic!("{c}"));
    assert_eq!(
        (&app["before"], &app["after"]),
        (&"ok".into(), &"critical".into())
    );

    let (_, text, _) = run_async(vec!["--config".into(), config, "--baseline".into(), base]).await;
    let section = text
        .split("Since the baseline (")
        .nth(1)
        .unwrap_or_else(|| panic!("no baseline section:\n{text}"));
    assert!(
        section.contains("+ new      upstream-not-running"),
        "{text}"
    );
    assert!(section.contains("upstream:app  ok → critical"), "{text}");
}

#[test]
fn unreadable_or_invalid_baseline_is_exit_three_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad-baseline.json");
    std::fs::write(&bad, "{ not json").unwrap();
    let missing = dir.path().join("missing-baseline.json");
    for (path, name) in [
        (&bad, "bad-baseline.json"),
        (&missing, "missing-baseline.json"),
    ] {
        let (code, out, err) = run(&["--no-discover", "--baseline", path.to_str().unwrap()]);
        assert_eq!(code, 3, "{err}");
        assert!(out.is_empty(), "nothing probed, nothing reported: {out}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(name), "{err}");
    }
}

#[test]
fn completions_and_man_page_mention_every_subcommand() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (code, out, err) = run(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(out.contains("check-config"), "{shell}:\n{out}");
    }
    let (code, out, _) = run(&["completions", "tcsh"]);
    assert_eq!((code, out.as_str()), (3, ""));
    let (code, out, err) = run(&["man"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with(".ie") || out.contains(".TH"), "{out}");
    // roff escapes hyphens.
    let text = out.replace("\\-", "-");
    for word in ["check-config", "serve", "init", "--baseline"] {
        assert!(text.contains(word), "{word}:\n{out}");
    }
}

#[test]
fn exporter_docs_scrape_config_and_alert_rules_pass_promtool() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/prometheus-exporter.md"
    ))
    .unwrap();
    let yaml: Vec<&str> = doc
        .split("```yaml\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let rules = yaml.iter().find(|b| b.contains("groups:")).unwrap();
    assert!(rules.contains(r#"why5xx_finding{severity="critical"} == 1"#));
    assert!(rules.contains("for: 2m") && rules.contains("why5xx_up == 0"));
    let path = dir.path().join("rules.yml");
    std::fs::write(&path, rules).unwrap();
    promtool(&["check", "rules", path.to_str().unwrap()], "");
    let scrape = yaml.iter().find(|b| b.contains("scrape_configs:")).unwrap();
    let path = dir.path().join("prometheus.yml");
    std::fs::write(&path, scrape).unwrap();
    promtool(&["check", "config", path.to_str().unwrap()], "");
}

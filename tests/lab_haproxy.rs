//! The failure lab behind a real HAProxy: the lab's application
//! (`tests/lab/app.py`) behind `haproxy -f … -db` with health checks, its
//! stats socket and its log (through a syslog receiver, as rsyslog writes
//! it), one real failure per scenario, and the real `why5xx` binary run
//! twice — with `[proxy]` naming HAProxy's config, log and socket, and with
//! the proxy discovered — each asserting the first finding.
//!
//! Every scenario first checks its failure without why5xx (HAProxy really
//! answers 503 or 504, its log really says so). Discovery picks the oldest
//! running master, so these tests run in nextest's `nginx` group.

use std::time::Duration;

use crate::lab::{Lab, wait_until};
use crate::support::{self, Haproxy};

/// A lab with HAProxy in front of the application. The HAProxy is dropped
/// after the lab's processes.
struct HaproxyLab {
    lab: Lab,
    haproxy: Haproxy,
}

/// HAProxy forwarding `fe` to backend `app`, whose one server is at
/// `server` (`{app}`: where the application listens), checked every 200 ms,
/// down after one failed check; `backend_extra` goes in the backend.
fn haproxy_to(server: &str, backend_extra: &str) -> Haproxy {
    Haproxy::start(&format!(
        "frontend fe\n    bind 127.0.0.1:{{port}}\n    default_backend app\n\n\
         backend app\n{backend_extra}    default-server inter 200ms fall 1 rise 1\n    server app1 {server} check\n"
    ))
}

impl HaproxyLab {
    fn new(
        name: &'static str,
        app_args: &[&str],
        server: Option<&str>,
        backend_extra: &str,
    ) -> Self {
        let mut lab = Lab::new(name);
        lab.app(app_args);
        let at = format!("127.0.0.1:{}", lab.app_port);
        let haproxy = haproxy_to(server.unwrap_or(&at), backend_extra);
        Self { lab, haproxy }
    }

    /// `n` GETs of `path` through HAProxy, asserting each got `status`.
    fn drive_expect(&self, path: &str, n: usize, status: u16) {
        let got: Vec<u16> = (0..n)
            .map(|_| support::get_status(&self.haproxy.url(path)))
            .collect();
        assert!(
            got.iter().all(|s| *s == status),
            "the lab failed to inject its failure: expected {n} x {status} from HAProxy, got {got:?}\nlog:\n{}",
            self.haproxy.log_text()
        );
    }

    /// The check's verdict on the server, as HAProxy logs it.
    fn wait_for_down(&self) {
        self.haproxy.wait_for_log("Server app/app1 is DOWN");
    }

    /// Diagnose twice: with `[proxy]` naming HAProxy (config, log, stats
    /// socket), then with the proxy discovered from the running master.
    fn diagnose_both(&mut self, upstream_extra: &str, expected: Option<&str>) {
        let port = self.lab.app_port;
        let endpoint = format!(
            "[[endpoint]]\nname = \"public\"\nurl = \"{}\"\n",
            self.haproxy.url("/health")
        );
        self.lab.sections.clear();
        self.lab.section(&endpoint);
        self.lab.section(&format!(
            "[proxy]\nkind = \"haproxy\"\nconfig = \"{}\"\nerror_log = \"{}\"\nstats_socket = \"{}\"\n",
            self.haproxy.conf().display(),
            self.haproxy.log().display(),
            self.haproxy.stats_socket().display()
        ));
        self.lab
            .upstream(&format!("http://127.0.0.1:{port}/health"), upstream_extra);
        let configured = self.lab.diagnose(expected);
        assert!(
            probe_ran(&configured, "haproxy:stats") && probe_ran(&configured, "log:proxy"),
            "configured: the stats and log probes run"
        );
        self.lab.sections.clear();
        self.lab.discover = true;
        self.lab.section(&endpoint);
        self.lab
            .upstream(&format!("http://127.0.0.1:{port}/health"), upstream_extra);
        let discovered = self.lab.diagnose(expected);
        assert!(
            probe_ran(&discovered, "proxy:proxy") || probe_ran(&discovered, "proxy:haproxy"),
            "discovered: the proxy probe runs"
        );
        let found = discovered["probes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["kind"] == "proxy")
            .map(|p| p["observations"]["config"].clone());
        assert_eq!(
            found.and_then(|c| c.as_str().map(str::to_string)),
            Some(self.haproxy.conf().display().to_string()),
            "discovery found this HAProxy"
        );
        assert!(
            probe_ran(&discovered, "haproxy:stats"),
            "discovered: the stats socket from the config"
        );
    }
}

fn probe_ran(report: &serde_json::Value, id: &str) -> bool {
    report["probes"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|p| p["id"] == id && p["status"] != "unknown")
}

/// The first finding's evidence, as one text.
fn first_evidence(report: &serde_json::Value) -> String {
    report["findings"][0]["evidence"].to_string()
}

#[test]
fn lab_haproxy_healthy() {
    let mut h = HaproxyLab::new("haproxy_healthy", &["--mode", "ok"], None, "");
    wait_until(Duration::from_secs(5), "the check to pass", || {
        support::get_status(&h.haproxy.url("/health")) == 200
    });
    h.drive_expect("/health", 3, 200);
    h.diagnose_both("", None);
}

#[test]
fn lab_haproxy_stopped_upstream() {
    let mut h = HaproxyLab::new("haproxy_stopped_upstream", &["--mode", "ok"], None, "");
    let app = h.lab.app.expect("started");
    h.lab.kill(app);
    h.wait_for_down();
    h.drive_expect("/health", 3, 503);
    h.haproxy.wait_for_log("app/<NOSRV>");
    h.diagnose_both("", Some("upstream-not-running"));
    let report = h.lab.diagnose(Some("upstream-not-running"));
    let evidence = first_evidence(&report);
    assert!(evidence.contains("L4CON Connection refused"), "{evidence}");
    assert!(
        evidence.contains("answers 503"),
        "the 503 is cited: {evidence}"
    );
}

#[test]
fn lab_haproxy_slower_than_timeout_server() {
    let mut h = HaproxyLab::new(
        "haproxy_slower_than_timeout_server",
        &["--mode", "slow", "--delay", "3"],
        None,
        "    timeout server 1s\n",
    );
    h.drive_expect("/health", 2, 504);
    h.haproxy.wait_for_log(" sH-");
    h.diagnose_both("slow = \"500ms\"", Some("slow-backend"));
}

#[test]
fn lab_haproxy_server_on_the_wrong_port() {
    let wrong = support::refused_addr();
    let mut h = HaproxyLab::new(
        "haproxy_server_on_the_wrong_port",
        &["--mode", "ok"],
        Some(&wrong.to_string()),
        "",
    );
    h.wait_for_down();
    h.drive_expect("/health", 3, 503);
    assert_eq!(
        support::get_status(&h.lab.app_proc().url("/health")),
        200,
        "the app answers where it was configured"
    );
    h.diagnose_both("", Some("proxy-misconfiguration"));
}
